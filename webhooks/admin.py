from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery

from smsplatform.admin import AccountScopedAdmin, AccountScopedForm
from smsplatform.errors import InvalidInput

from .addresses import url_check
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import DeliveryPending, delivery_resend, endpoint_update


class WebhookEndpointForm(AccountScopedForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["url", "message_status", "message_received"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url:
            try:
                url_check(url=url, field="url")
            except InvalidInput as exc:
                raise forms.ValidationError(exc.fields["url"]) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AccountScopedAdmin):
    """An account's webhook. Made on first use through the API; its URL and events can be changed here too."""

    form = WebhookEndpointForm
    list_display = ["account", "url", "message_status", "message_received", "disabled_at", "disabled_reason"]
    search_fields = ["url", "account__name"]
    list_select_related = ["account"]
    readonly_fields = ["account", "secret", "previous_secret_expires_at", "disabled_at", "disabled_reason"]
    owner_can_add = False

    def has_add_permission(self, request):
        return False  # it comes with its secret from the API (GET /api/v1/webhooks/)

    def save_model(self, request, obj, form, change):
        # The service's rules (a URL enables a disabled webhook), and never the secret: the form has not got it.
        events = [event for event, field in WebhookEndpoint.EVENT_FIELDS.items() if form.cleaned_data[field]]
        endpoint_update(account_id=obj.account_id, url=obj.url, events=events)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # the delivery's admin decided who sees it


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AccountScopedAdmin):
    """Every event to every URL and its attempts, read-only; a delivery can be re-sent."""

    list_display = ["created_at", "account", "type", "url", "state", "attempts", "last_status_code",
                    "last_duration_ms", "next_retry_at"]  # fmt: skip
    list_filter = ["state", "type"]
    search_fields = ["=id", "=message__id", "url"]
    list_select_related = ["account"]
    inlines = [WebhookAttemptInline]
    read_only = True
    actions = ["resend"]

    def get_queryset(self, request):
        last = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-attempted_at", "-id")
        # The page's last attempts in its one query, not one per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status_code=Subquery(last.values("status_code")[:1]),
                last_duration_ms=Subquery(last.values("duration_ms")[:1]),
            )
        )

    @admin.display(description="Last status code")
    def last_status_code(self, delivery):
        return delivery.last_status_code

    @admin.display(description="Last duration (ms)")
    def last_duration_ms(self, delivery):
        return delivery.last_duration_ms

    @admin.display(description="Next retry")
    def next_retry_at(self, delivery):
        return delivery.next_attempt_at if delivery.state == WebhookDelivery.State.PENDING else None

    def has_resend_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend(self, request, queryset):
        resent = 0
        for delivery in queryset:
            try:
                delivery_resend(delivery=delivery)
                resent += 1
            except DeliveryPending:
                pass  # on its way already
        self.message_user(request, f"Queued {resent} delivery(ies) again.", messages.SUCCESS)
