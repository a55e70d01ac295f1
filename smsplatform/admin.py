"""Dashboard scoping shared by every app's admin.

Superusers see every account. An account owner (a staff user with an `account`,
not a superuser) sees and manages only that account's rows, without needing
Django model permissions: the account is the permission.
"""

from django import forms
from django.contrib import admin


def owner_account_id(request):
    """The account a non-superuser staff member manages, or None."""
    user = request.user
    if user.is_active and user.is_staff and not user.is_superuser:
        return user.account_id
    return None


class AccountScopedForm(forms.ModelForm):
    """A dashboard form that knows whose row it checks, also when an owner's form has no account field."""

    # Set by AccountScopedAdmin.get_form for an owner: their form has no account field.
    owner_account_id = None

    def account_id_being_saved(self):
        """The account the row will belong to: the one picked, the owner's, or the row's own."""
        account = self.cleaned_data.get("account")
        return account.pk if account else self.owner_account_id or self.instance.account_id


class AccountScopedAdmin(admin.ModelAdmin):
    # The lookup from this model to its Account ("account", or "pk" for Account itself).
    account_field = "account"
    owner_can_add = True
    owner_can_change = True
    owner_can_delete = False
    # A record (the ledger, sent messages): nobody adds, changes or deletes it here, superusers neither.
    read_only = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        account_id = owner_account_id(request)
        if account_id is None:
            return queryset.none()
        return queryset.filter(**{self.account_field: account_id})

    def _is_owner(self, request) -> bool:
        return owner_account_id(request) is not None

    def has_module_permission(self, request):
        return request.user.is_superuser or self._is_owner(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._is_owner(request)

    def has_add_permission(self, request):
        if self.read_only:
            return False
        return super().has_add_permission(request) or (self.owner_can_add and self._is_owner(request))

    def has_change_permission(self, request, obj=None):
        if self.read_only:
            return False
        return super().has_change_permission(request, obj) or (self.owner_can_change and self._is_owner(request))

    def has_delete_permission(self, request, obj=None):
        if self.read_only:
            return False
        return super().has_delete_permission(request, obj) or (self.owner_can_delete and self._is_owner(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, AccountScopedForm):
            form.owner_account_id = owner_account_id(request)
        return form

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self._is_owner(request) and self.account_field == "account":
            return [field for field in fields if field != "account"]  # always their own: set in save_model
        return fields

    def save_model(self, request, obj, form, change):
        if self._is_owner(request) and self.account_field == "account":
            obj.account_id = owner_account_id(request)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(self, db_field, request, kwargs):
        """An owner picks related rows (groups, senders…) only from their own account."""
        account_id = owner_account_id(request)
        related = db_field.related_model
        if account_id is not None and any(field.name == "account" for field in related._meta.fields):
            kwargs["queryset"] = related._default_manager.filter(account_id=account_id)
