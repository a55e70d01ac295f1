from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from smsplatform.admin import AccountScopedAdmin

from .models import Message, SenderId, Tester
from .services import sender_review


class SenderReviewActionForm(ActionForm):
    reason = forms.CharField(max_length=255, required=False, help_text="Why a sender ID is rejected")


@admin.register(SenderId)
class SenderIdAdmin(AccountScopedAdmin):
    """Owners see their sender IDs and request new ones through the API; only superusers (operators)
    add, approve or reject them here."""

    list_display = ["name", "account", "status", "purpose", "created_at", "reviewed_at"]
    list_filter = ["status"]
    search_fields = ["name", "account__name"]
    readonly_fields = ["status", "reviewed_at", "rejection_reason", "created_at"]
    action_form = SenderReviewActionForm
    actions = ["approve", "reject"]
    owner_can_add = False
    owner_can_change = False

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


@admin.register(Message)
class MessageAdmin(AccountScopedAdmin):
    """Sent messages, read-only: their history is the ledger's twin."""

    list_display = ["created_at", "account", "recipient", "sender", "status", "segments", "gateway", "error"]
    list_filter = ["status", "gateway"]
    # "=": a gateway's id (from an operator's report) matches exactly, through the message's parts.
    search_fields = ["recipient", "id", "=parts__gateway_message_id"]
    list_select_related = ["account"]
    read_only = True
