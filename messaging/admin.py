import csv
import io

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.models import Account
from smsplatform.admin import (
    AccountRelatedFilter,
    AccountScopedAdmin,
    AccountScopedForm,
    DateRangeFilter,
    owner_account_id,
)

from .export import messages_csv_filename, messages_csv_response
from .inbound import OPT_IN_WORDS, OPT_OUT_WORDS, number_normalize
from .models import InboundMessage, InboundNumber, Message, OptOut, SenderId, Tester
from .phone import phone_normalize
from .services import opt_out_add, opt_out_remove, opt_outs_import, sender_create, sender_review


class PhoneSearchMixin:
    """The search box finds a number however it is typed (0771234567, 771 234 567, +263771234567): a search
    for a valid number is an exact match on the stored E.164 form; anything else searches as usual."""

    phone_field = "phone"

    def get_search_results(self, request, queryset, search_term):
        phone = phone_normalize(search_term.strip()) if any(c.isdigit() for c in search_term) else None
        if phone is not None:
            return queryset.filter(**{self.phone_field: phone}), False
        return super().get_search_results(request, queryset, search_term)


class SenderReviewActionForm(ActionForm):
    reason = forms.CharField(max_length=255, required=False, help_text="Why a sender ID is rejected")


class SenderRequestForm(AccountScopedForm):
    class Meta:
        model = SenderId
        fields = ["account", "name", "purpose"]
        help_texts = {
            "name": "What phones show as the sender: up to 11 letters, digits and spaces.",
            "purpose": "What you will send with it (order updates, reminders…): it helps us approve it.",
        }

    def clean(self):
        cleaned = super().clean()
        account_id, name = self.account_id_being_saved(), cleaned.get("name")
        if account_id and name and SenderId.objects.filter(account_id=account_id, name__iexact=name).exists():
            self.add_error("name", "This account already has this sender ID.")
        return cleaned


@admin.register(SenderId)
class SenderIdAdmin(AccountScopedAdmin):
    """Owners request sender IDs (a name and its purpose) and follow their review; only superusers (operators)
    approve or reject them."""

    form = SenderRequestForm
    list_display = ["name", "account", "status", "purpose", "rejection_reason", "created_at", "reviewed_at"]
    list_filter = ["status"]
    search_fields = ["name", "account__name"]
    readonly_fields = ["status", "reviewed_at", "rejection_reason", "created_at"]
    action_form = SenderReviewActionForm
    actions = ["approve", "reject"]
    owner_can_change = False

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        account_id = owner_account_id(request) or obj.account_id
        saved = sender_create(account_id=account_id, name=obj.name, purpose=obj.purpose)
        obj.pk, obj.account_id = saved.pk, saved.account_id
        self.message_user(request, f"Sender ID {saved.name} requested: we review it, usually within a working day.")

    def has_review_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="Approve selected sender IDs", permissions=["review"])
    def approve(self, request, queryset):
        for sender in queryset:
            sender_review(sender=sender, approve=True)
        self.message_user(request, f"Approved {queryset.count()} sender ID(s).", messages.SUCCESS)

    @admin.action(description="Reject selected sender IDs (reason beside the action)", permissions=["review"])
    def reject(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason for the rejection.", messages.ERROR)
            return
        for sender in queryset:
            sender_review(sender=sender, approve=False, reason=reason[:255])
        self.message_user(request, f"Rejected {queryset.count()} sender ID(s).", messages.SUCCESS)


@admin.register(Tester)
class TesterAdmin(AccountScopedAdmin):
    """Verified tester numbers: the only recipients of a sandbox account. Staff add and verify them."""

    list_display = ["phone", "account", "verified_at", "created_at"]
    search_fields = ["phone", "account__name"]
    owner_can_add = False
    owner_can_change = False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class SenderFilter(admin.SimpleListFilter):
    title = "sender"
    parameter_name = "sender"

    def lookups(self, request, model_admin):
        senders = SenderId.objects.filter(status=SenderId.Status.APPROVED)
        if (account_id := owner_account_id(request)) is not None:
            senders = senders.filter(account_id=account_id)
        return [(name, name) for name in senders.order_by("name").values_list("name", flat=True).distinct()[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(sender=self.value()) if self.value() else queryset


class CampaignFilter(AccountRelatedFilter):
    title = "campaign"
    parameter_name = "campaign"
    related_model = Message.campaign.field.related_model  # campaigns sits above messaging: no import
    lookup = "campaign_id"


@admin.register(Message)
class MessageAdmin(PhoneSearchMixin, AccountScopedAdmin):
    """Sent messages, read-only: their history is the ledger's twin."""

    # Narrow enough for a 1400 px screen beside the sidebar and the filters: the error shows under its status.
    list_display = ["created", "account", "recipient", "sender", "text_preview", "status_and_error", "segments",
                    "credits", "campaign_link"]  # fmt: skip
    list_filter = [("created_at", DateRangeFilter), "status", SenderFilter, CampaignFilter, "gateway"]
    # "=": a gateway's id (from an operator's report) matches exactly, through the message's parts.
    search_fields = ["recipient", "=id", "=parts__gateway_message_id", "text"]
    search_help_text = "A number however it is written (0771234567, +263771234567), a message id, or words of the text."
    phone_field = "recipient"
    list_select_related = ["account", "campaign"]
    read_only = True

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return filters if request.user.is_superuser else [f for f in filters if f != "gateway"]

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_view)
        return [path("export/", view, name="messaging_message_export"), *super().get_urls()]

    def export_view(self, request):
        """The list's rows as it is filtered and searched, every page of them, as a streamed CSV."""
        rows = self.get_changelist_instance(request).get_queryset(request)
        return messages_csv_response(messages=rows, filename=messages_csv_filename())

    @admin.display(description="created", ordering="created_at")
    def created(self, message):
        return date_format(timezone.localtime(message.created_at), "j M H:i")

    @admin.display(description="text")
    def text_preview(self, message):
        return format_html('<span title="{}">{}</span>', message.text, Truncator(message.text).chars(60))

    @admin.display(description="status", ordering="status")
    def status_and_error(self, message):
        if not message.error:
            return message.get_status_display()
        return format_html('{}<div class="quiet">{}</div>', message.get_status_display(), message.error)

    @admin.display(description="campaign", ordering="campaign__name")
    def campaign_link(self, message):
        if message.campaign is None:
            return "—"
        url = reverse("admin:campaigns_campaign_change", args=[message.campaign_id])
        return format_html('<a href="{}">{}</a>', url, message.campaign.name)


class InboundNumberForm(AccountScopedForm):
    class Meta:
        model = InboundNumber
        fields = ["number", "keyword", "account", "gateway"]

    def clean_number(self):
        return number_normalize(self.cleaned_data["number"])

    def clean_keyword(self):
        keyword = self.cleaned_data["keyword"].strip().upper()
        if " " in keyword:
            raise forms.ValidationError("A keyword is one word: the first word of the messages it routes.")
        if keyword in OPT_OUT_WORDS | OPT_IN_WORDS:
            raise forms.ValidationError(f"{keyword} is how a phone opts out or back in: it cannot be a keyword.")
        return keyword


@admin.register(InboundNumber)
class InboundNumberAdmin(AccountScopedAdmin):
    """Operators assign inbound numbers (and keywords on a shared one) to accounts; owners see theirs."""

    form = InboundNumberForm
    list_display = ["number", "keyword", "account", "gateway", "created_at"]
    search_fields = ["number", "keyword", "account__name"]
    list_select_related = ["account"]
    owner_can_add = False
    owner_can_change = False


@admin.register(InboundMessage)
class InboundMessageAdmin(AccountScopedAdmin):
    """Messages phones sent: owners see their account's; operators also those that matched no inbound number."""

    list_display = ["received_at", "account", "sender", "recipient", "keyword", "text", "parts", "gateway"]
    list_filter = [("account", admin.EmptyFieldListFilter), "gateway"]
    search_fields = ["sender", "recipient", "text"]
    list_select_related = ["account"]
    read_only = True


class OptOutForm(AccountScopedForm):
    class Meta:
        model = OptOut
        fields = ["account", "phone"]

    def clean_phone(self):
        phone = phone_normalize(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError("Enter a valid phone number.")
        return phone


class SuppressionListForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.all(), required=False, help_text="Operators only.")
    phones = forms.CharField(widget=forms.Textarea, required=False, help_text="One number per line.")
    file = forms.FileField(required=False, help_text="CSV: the phone column, or the first one.")

    def clean(self):
        if not self.cleaned_data.get("phones") and not self.cleaned_data.get("file"):
            raise forms.ValidationError("Type the numbers or choose a file.")
        return self.cleaned_data

    def numbers(self) -> list[str]:
        """The numbers typed, then those of the file's phone column (or first column)."""
        typed = [line.strip() for line in self.cleaned_data.get("phones", "").splitlines() if line.strip()]
        upload = self.cleaned_data.get("file")
        if upload is None:
            return typed
        rows = list(csv.reader(io.TextIOWrapper(upload, encoding="utf-8-sig", errors="replace")))
        header = [cell.strip().lower() for cell in rows[0]] if rows else []
        column = header.index("phone") if "phone" in header else 0
        rows = rows[1:] if "phone" in header else rows
        return typed + [row[column].strip() for row in rows if len(row) > column and row[column].strip()]


@admin.register(OptOut)
class OptOutAdmin(AccountScopedAdmin):
    """Numbers that get no more of the account's messages but transactional ones. Owners add and remove them;
    the contact with the number follows."""

    list_display = ["phone", "account", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["phone"]
    list_select_related = ["account"]
    form = OptOutForm
    owner_can_change = False
    owner_can_delete = True

    def has_change_permission(self, request, obj=None):
        return False  # an opt-out is there or not: remove it and add another

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="messaging_optout_import"), *super().get_urls()]

    def import_view(self, request):
        """A suppression list, typed or as a CSV file, through the API's own import."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SuppressionListForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            account = owner_account_id(request) or getattr(form.cleaned_data["account"], "pk", None)
            if account is None:
                form.add_error("account", "Choose the account the numbers opt out of.")
            else:
                result = opt_outs_import(account_id=account, phones=form.numbers())
        if owner_account_id(request) is not None:
            del form.fields["account"]
        context = {**self.admin_site.each_context(request), "title": "Import a suppression list", "form": form,
                   "result": result, "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/messaging/optout/import.html", context)

    def save_model(self, request, obj, form, change):
        account_id = owner_account_id(request) or obj.account_id
        obj.pk = opt_out_add(account_id=account_id, phone=obj.phone)[0].pk

    def delete_model(self, request, obj):
        opt_out_remove(account_id=obj.account_id, phone=obj.phone)

    def delete_queryset(self, request, queryset):
        for opt_out in queryset:
            self.delete_model(request, opt_out)
