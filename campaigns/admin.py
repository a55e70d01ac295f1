from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html

from smsplatform.admin import AccountScopedAdmin
from smsplatform.errors import ApplicationError

from .models import Campaign
from .services import campaign_cancel, campaign_pause


@admin.register(Campaign)
class CampaignAdmin(AccountScopedAdmin):
    """Campaigns and their progress; created and sent through the API, paused or cancelled here too."""

    list_display = ["name", "account", "status", "progress", "estimated_credits", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    list_select_related = ["account"]
    read_only = True
    actions = ["pause", "cancel"]

    def get_queryset(self, request):
        # The counts of the whole page in one query, not one per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                recipients=Count("messages"),
                handled=Count("messages", filter=~Q(messages__status="queued")),
            )
        )

    @admin.display(description="Progress")
    def progress(self, campaign):
        return format_html(
            '<progress value="{}" max="{}" style="width: 8em"></progress> {} / {}',
            campaign.handled,
            campaign.recipients or 1,
            campaign.handled,
            campaign.recipients,
        )

    def _apply(self, request, queryset, action, done: str):
        changed = 0
        for campaign in queryset:
            try:
                action(campaign=campaign)
                changed += 1
            except ApplicationError as exc:
                self.message_user(request, f"{campaign.name}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} {changed} campaign(s).", messages.SUCCESS)

    @admin.action(description="Pause selected campaigns")
    def pause(self, request, queryset):
        self._apply(request, queryset, campaign_pause, "Paused")

    @admin.action(description="Cancel selected campaigns (refunds what was not sent)")
    def cancel(self, request, queryset):
        self._apply(request, queryset, campaign_cancel, "Cancelled")
