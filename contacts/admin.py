from django import forms
from django.contrib import admin
from django.db.models import Count

from messaging.phone import phone_normalize
from smsplatform.admin import AccountScopedAdmin, AccountScopedForm

from .models import Contact, Group


class ContactAdminForm(AccountScopedForm):
    class Meta:
        model = Contact
        fields = ["account", "phone", "first_name", "last_name", "opted_out", "groups"]

    def clean_phone(self) -> str:
        phone = phone_normalize(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError("Enter a valid phone number.")
        return phone

    def clean(self):
        cleaned = super().clean()
        account_id = self.account_id_being_saved()
        phone = cleaned.get("phone")
        if account_id and phone:
            others = Contact.objects.filter(account_id=account_id, phone=phone).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("phone", "This account already has a contact with this phone.")
        # A superuser picks the account and the groups: they must belong together (an owner only
        # sees their own account's groups).
        if account_id and any(group.account_id != account_id for group in cleaned.get("groups") or []):
            self.add_error("groups", "Choose groups of the contact's own account.")
        return cleaned


@admin.register(Contact)
class ContactAdmin(AccountScopedAdmin):
    form = ContactAdminForm
    list_display = ["phone", "first_name", "last_name", "opted_out", "account", "created_at"]
    list_filter = ["opted_out"]
    search_fields = ["phone", "first_name", "last_name"]
    list_select_related = ["account"]
    filter_horizontal = ["groups"]
    readonly_fields = ["created_at", "updated_at"]
    owner_can_delete = True


class GroupAdminForm(AccountScopedForm):
    class Meta:
        model = Group
        fields = ["account", "name", "description"]

    def clean(self):
        cleaned = super().clean()
        account_id = self.account_id_being_saved()
        name = cleaned.get("name")
        if account_id and name:
            others = Group.objects.filter(account_id=account_id, name__iexact=name).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("name", "This account already has a group with this name.")
        return cleaned


@admin.register(Group)
class GroupAdmin(AccountScopedAdmin):
    form = GroupAdminForm
    list_display = ["name", "account", "member_count", "created_at"]
    search_fields = ["name"]
    list_select_related = ["account"]
    readonly_fields = ["created_at"]
    owner_can_delete = True

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("contacts"))

    @admin.display(description="contacts", ordering="member_count")
    def member_count(self, group) -> int:
        return group.member_count
