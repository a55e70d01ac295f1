from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, re_path, reverse
from django.views.decorators.http import require_POST

from contacts.models import Group
from messaging.selectors import sender_names_approved
from smsplatform.admin import AccountScopedAdmin, ServiceForm, owner_account_id, owner_account_id_required
from smsplatform.errors import ApplicationError

from .models import Campaign
from .progress import campaign_progress
from .selectors import campaign_preparation_of, campaign_stats, campaign_stats_of
from .services import campaign_cancel, campaign_create, campaign_pause, campaign_preview, campaign_send

# What the detail page offers in each status; each is the API's action of the same name.
ACTIONS = {
    Campaign.Status.DRAFT: ["send", "cancel"],
    Campaign.Status.SCHEDULED: ["cancel"],
    Campaign.Status.SENDING: ["pause", "cancel"],
    Campaign.Status.PAUSED: ["resume", "cancel"],
}
SERVICES = {"send": campaign_send, "resume": campaign_send, "pause": campaign_pause, "cancel": campaign_cancel}
PAST = {"send": "sent", "resume": "resumed", "pause": "paused", "cancel": "cancelled"}
LIVE = {Campaign.Status.SCHEDULED, Campaign.Status.SENDING}  # the detail page polls their progress


class CampaignCreateForm(ServiceForm):
    service_fields = {"group_id": "group", "sender_name": "sender"}

    name = forms.CharField(max_length=100)
    group = forms.ModelChoiceField(queryset=Group.objects.none(), help_text="Its members who have not opted out.")
    sender = forms.ChoiceField(help_text="One of your approved sender IDs.")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        strip=False,
        help_text="Placeholders: {name} (first name), {first_name}, {last_name}, {phone}.",
    )
    scheduled_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty to send when you press Send.",
    )

    def __init__(self, *args, account_id, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = Group.objects.filter(account_id=account_id).order_by("name")
        self.fields["sender"].choices = [(name, name) for name in sender_names_approved(account_id=account_id)]


class CampaignChangeList(ChangeList):
    def get_results(self, request):
        """The page's campaigns, each with its counts as `.stats`: one query for the whole page."""
        super().get_results(request)
        self.result_list = list(self.result_list)
        stats = campaign_stats(campaign_ids=[campaign.pk for campaign in self.result_list])
        for campaign in self.result_list:
            campaign.stats = stats[campaign.pk]


@admin.register(Campaign)
class CampaignAdmin(AccountScopedAdmin):
    """Campaigns: an owner creates one, previews it for a real contact, sends, pauses, resumes or cancels it and
    watches it go, through the same services as the API. Nobody edits a campaign's fields here."""

    list_display = ["name", "account", "status", "progress", "estimated_credits", "created_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    list_select_related = ["account", "group"]
    fields = ["name", "status", "status_reason", "group", "sender_name", "message", "scheduled_at",
              "estimated_credits", "created_at", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields
    change_form_template = "admin/campaigns/campaign/detail.html"
    actions = ["pause", "cancel"]

    def has_add_permission(self, request):
        return self._is_owner(request)  # a campaign belongs to the owner who makes it

    def has_change_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return CampaignChangeList

    @admin.display(description="Progress")
    def progress(self, campaign):
        return campaign_progress(campaign=campaign, stats=campaign.stats)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="campaigns_campaign_preview"),
            path("<uuid:campaign_id>/progress/", view(self.progress_view), name="campaigns_campaign_progress"),
            re_path(
                rf"^(?P<campaign_id>[0-9a-f-]{{36}})/(?P<action>{'|'.join(SERVICES)})/$",
                view(self.action_view),
                name="campaigns_campaign_action",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Create a draft with the API's rules (campaign_create), then its page offers Send."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        account_id = owner_account_id(request)
        form = CampaignCreateForm(request.POST or None, account_id=account_id)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                campaign = campaign_create(
                    account_id=account_id,
                    name=data["name"],
                    message=data["message"],
                    sender_name=data["sender"],
                    group_id=data["group"].pk,
                    scheduled_at=data["scheduled_at"],
                )
            except ApplicationError as error:
                form.add_service_error(error)
            else:
                self.log_addition(request, campaign, [{"added": {}}])
                self.message_user(
                    request, f"Campaign {campaign.name} saved as a draft: check it, then press Send.", messages.SUCCESS
                )
                return redirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
        context = {**self.admin_site.each_context(request), "title": "New campaign", "form": form,
                   "opts": self.model._meta, "has_senders": bool(form.fields["sender"].choices)}  # fmt: skip
        return TemplateResponse(request, "admin/campaigns/campaign/create.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        extra = {}
        if campaign is not None:
            extra = {
                "progress": campaign_progress(campaign=campaign, stats=campaign_stats_of(campaign)),
                "live": campaign.status in LIVE,
                "campaign_actions": ACTIONS.get(campaign.status, []) if self._is_owner(request) else [],
                "campaign": campaign,
            }
        return super().change_view(request, object_id, form_url, extra | (extra_context or {}))

    def _campaign(self, request, campaign_id) -> Campaign:
        return get_object_or_404(self.get_queryset(request), pk=campaign_id)

    def progress_view(self, request, campaign_id):
        campaign = self._campaign(request, campaign_id)
        stats = campaign_stats_of(campaign)
        html = campaign_progress(campaign=campaign, stats=stats)
        return JsonResponse({"status": campaign.status, "live": campaign.status in LIVE, "stats": stats,
                             "preparation": campaign_preparation_of(campaign, stats), "html": html})  # fmt: skip

    def action_view(self, request, campaign_id, action):
        return require_POST(self._action)(request, campaign_id, action)

    def _action(self, request, campaign_id, action):
        campaign = self._campaign(request, campaign_id)
        if not self._is_owner(request) or action not in ACTIONS.get(campaign.status, []):
            self.message_user(request, f"A {campaign.status} campaign cannot be {PAST[action]} here.", messages.ERROR)
        else:
            try:
                SERVICES[action](campaign=campaign)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"{campaign.name}: {PAST[action]}.", messages.SUCCESS)
        return redirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def preview_view(self, request):
        """The message as the group's first recipient gets it, and the campaign's cost now (JSON)."""
        account_id = owner_account_id_required(request)
        try:
            preview = campaign_preview(
                account_id=account_id, template=request.GET.get("message", ""), group_id=request.GET.get("group")
            )
        except ApplicationError as error:
            return JsonResponse({"error": error.message}, status=400)
        except ValidationError:  # not a UUID
            return JsonResponse({"error": "Choose a group."}, status=400)
        return JsonResponse(preview)

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
