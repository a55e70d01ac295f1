from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from billing.services import credits_topup
from smsplatform.admin import AccountScopedAdmin, owner_account_id

from .models import Account, ApiKey, User
from .services import api_key_revoke, api_key_save_new


class TopupForm(forms.Form):
    amount = forms.IntegerField(min_value=1, required=False, help_text="Credits to add")
    note = forms.CharField(max_length=200, required=False)


class TopupActionForm(ActionForm, TopupForm):
    """The changelist's action bar, with the top-up's amount and note beside the action menu."""


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin):
    """Operators manage accounts; an owner changes only the texts that answer a STOP or a START."""

    account_field = "pk"
    owner_can_add = False
    list_display = ["name", "sms_credits", "is_sandbox", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["id", "sms_credits", "created_at"]
    action_form = TopupActionForm
    actions = ["topup"]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "name", "is_sandbox"]

    def has_delete_permission(self, request, obj=None):
        # Accounts carry the ledger: they are kept, not deleted.
        return False

    def has_topup_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="Top up selected accounts (amount and note beside the action)", permissions=["topup"])
    def topup(self, request, queryset):
        form = TopupForm(request.POST)
        if not form.is_valid() or not form.cleaned_data["amount"]:
            self.message_user(request, "Enter a whole number of credits to add.", messages.ERROR)
            return
        amount, note = form.cleaned_data["amount"], form.cleaned_data["note"]
        for account in queryset:
            credits_topup(
                account_id=account.pk,
                amount=amount,
                description=note or f"Top-up by {request.user.get_username()}",
                reference=f"admin:{request.user.pk}",
            )
        self.message_user(request, f"Added {amount} credits to {queryset.count()} account(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(AccountScopedAdmin):
    list_display = ["name", "prefix", "account", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = ["account", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: it also voids the cached lookup, so the key stops at once.
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [*self.readonly_fields, "account"]
        return []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The add form asks only for the name (and account): the secret is made on save.
        return fields if obj is not None else [field for field in fields if field in ("account", "name")]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if (account_id := owner_account_id(request)) is not None:
            obj.account_id = account_id
        secret = api_key_save_new(api_key=obj)
        self.message_user(
            request,
            f"New API key: {secret} — copy it now; it is not stored and will not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = [*DjangoUserAdmin.fieldsets, ("Account", {"fields": ["account"]})]
    add_fieldsets = [*DjangoUserAdmin.add_fieldsets, ("Account", {"fields": ["account"]})]
    list_display = [*DjangoUserAdmin.list_display, "account"]
    list_filter = [*DjangoUserAdmin.list_filter, "account"]
