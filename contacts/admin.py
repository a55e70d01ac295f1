from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path

from accounts.models import Account
from messaging.admin import PhoneSearchMixin
from messaging.phone import phone_normalize
from smsplatform.admin import AccountRelatedFilter, AccountScopedAdmin, AccountScopedForm, owner_account_id
from smsplatform.errors import ApplicationError

from .importing import COLUMNS, csv_rows
from .models import Contact, Group
from .services import contacts_import, group_members_add, group_members_remove


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


class GroupFilter(AccountRelatedFilter):
    title = "group"
    parameter_name = "group"
    related_model = Group
    lookup = "groups"


class GroupActionForm(ActionForm):
    """The list's action bar, with the group that "add to" and "remove from" act on (the caller's groups)."""

    # A plain field, whose menu the list fills with the caller's groups: the admin validates this form before it
    # knows who asks, and the action checks the group it names (ContactAdmin._chosen_group).
    group = forms.CharField(required=False, widget=forms.Select)


class ContactImportForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.all(), required=False, help_text="Operators only.")
    file = forms.FileField(help_text="CSV with a header row: phone, first_name, last_name (any order; names optional).")
    group = forms.ModelChoiceField(
        queryset=Group.objects.none(), required=False, help_text="Every imported contact joins it (optional)."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CONTACTS_IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"Over {settings.CONTACTS_IMPORT_MAX_BYTES // 2**20} MB: split the file.")
        return upload


def owner_groups(request):
    """The groups the caller may pick: their account's, or every group for an operator."""
    account_id = owner_account_id(request)
    groups = Group.objects.order_by("name")
    return groups.filter(account_id=account_id) if account_id is not None else groups.select_related("account")


@admin.register(Contact)
class ContactAdmin(PhoneSearchMixin, AccountScopedAdmin):
    form = ContactAdminForm
    list_display = ["phone", "first_name", "last_name", "group_names", "opted_out", "account", "created_at"]
    list_filter = [GroupFilter, "opted_out"]
    search_fields = ["phone", "first_name", "last_name"]
    search_help_text = "A number however it is written (0771234567, +263771234567), or a name."
    list_select_related = ["account"]
    filter_horizontal = ["groups"]
    readonly_fields = ["created_at", "updated_at"]
    owner_can_delete = True
    action_form = GroupActionForm
    actions = ["group_add", "group_remove"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="groups")
    def group_names(self, contact) -> str:
        return ", ".join(sorted(group.name for group in contact.groups.all())) or "—"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        action_form = getattr(response, "context_data", {}).get("action_form")
        if action_form is not None:
            choices = [("", "(choose a group)")] + [(str(g.pk), str(g)) for g in owner_groups(request)[:500]]
            action_form.fields["group"].widget.choices = choices
        return response

    def _chosen_group(self, request) -> Group | None:
        group = owner_groups(request).filter(pk=request.POST.get("group") or None).first()
        if group is None:
            self.message_user(request, "Choose the group beside the action.", messages.ERROR)
        return group

    @admin.action(description="Add selected contacts to the group beside")
    def group_add(self, request, queryset):
        if group := self._chosen_group(request):
            added = group_members_add(group=group, contact_ids=self._of_group_account(request, queryset, group))
            self.message_user(request, f"Added {added} contact(s) to {group.name}.", messages.SUCCESS)

    @admin.action(description="Remove selected contacts from the group beside")
    def group_remove(self, request, queryset):
        if group := self._chosen_group(request):
            removed = group_members_remove(group=group, contact_ids=self._of_group_account(request, queryset, group))
            self.message_user(request, f"Removed {removed} contact(s) from {group.name}.", messages.SUCCESS)

    def _of_group_account(self, request, queryset, group) -> list:
        # An operator's selection may span accounts: a group takes only contacts of its own.
        return list(queryset.filter(account_id=group.account_id).values_list("pk", flat=True))

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="contacts_contact_import"), *super().get_urls()]

    def import_view(self, request):
        """A CSV of contacts through the API's own import: created, updated, and a report of the rows refused."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ContactImportForm(request.POST or None, request.FILES or None)
        form.fields["group"].queryset = owner_groups(request)
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            account_id = owner_account_id(request) or getattr(data["account"], "pk", None)
            group = data["group"]
            if account_id is None:
                form.add_error("account", "Choose the account the contacts belong to.")
            elif group is not None and group.account_id != account_id:
                form.add_error("group", "Choose a group of that account.")
            else:
                try:
                    result = contacts_import(
                        account_id=account_id, rows=csv_rows(data["file"]), group_id=group and group.pk
                    )
                except ApplicationError as error:
                    form.add_error("file", getattr(error, "fields", {}).get("file", [error.message]))
        if owner_account_id(request) is not None:
            del form.fields["account"]
        context = {**self.admin_site.each_context(request), "title": "Import contacts", "form": form,
                   "result": result, "columns": COLUMNS, "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/contacts/contact/import.html", context)


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
