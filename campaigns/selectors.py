from django.db.models import Count, Q, QuerySet

from messaging.models import Message
from smsplatform.errors import NotFound

from .models import Campaign

_SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.UNDELIVERED)
# The statuses of a campaign sent whose preparation may not be finished (a cancelled one's stopped).
_PREPARED_LATER = (Campaign.Status.SCHEDULED, Campaign.Status.SENDING, Campaign.Status.PAUSED)


def campaign_list(*, account_id) -> QuerySet[Campaign]:
    return Campaign.objects.filter(account_id=account_id).order_by("-created_at", "-id")


def campaign_get(*, account_id, campaign_id) -> Campaign:
    campaign = Campaign.objects.filter(account_id=account_id, pk=campaign_id).first()
    if campaign is None:
        raise NotFound("Campaign not found.")
    return campaign


def campaign_stats(*, campaign_ids) -> dict:
    """Live counts per campaign, in one query for any number of campaigns.

    `sent` counts every message the gateway took (delivered and undelivered too); `failed`
    those rejected, out of attempts, or cancelled before they left.
    """
    campaigns = campaigns_with_stats(Campaign.objects.filter(pk__in=campaign_ids).order_by())
    return {campaign.pk: campaign_stats_of(campaign) for campaign in campaigns}


STAT_KEYS = ("recipients", "queued", "sent", "delivered", "failed")


def campaigns_with_stats(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The campaigns with campaign_stats' counts as attributes, in the same query (a list page's rows):
    `campaign_stats_of(campaign)` reads them back as campaign_stats gives them."""
    messages = "messages__status"
    return campaigns.annotate(
        recipients=Count("messages"),
        queued=Count("messages", filter=Q(**{messages: Message.Status.QUEUED})),
        sent=Count("messages", filter=Q(**{f"{messages}__in": _SENT})),
        delivered=Count("messages", filter=Q(**{messages: Message.Status.DELIVERED})),
        failed=Count("messages", filter=Q(**{messages: Message.Status.FAILED})),
    )


def campaign_stats_of(campaign: Campaign) -> dict:
    return {key: getattr(campaign, key) for key in STAT_KEYS}


def campaign_preparation_of(campaign: Campaign, stats: dict) -> dict:
    """How far its messages are prepared, from its campaign_stats counts: `preparing` from send/ until every
    recipient's message is written (paused meanwhile too), `prepared` of `expected`; once prepared, every
    recipient has its message."""
    prepared = stats["recipients"]
    return {
        "preparing": campaign.prepared_at is None and campaign.status in _PREPARED_LATER,
        "prepared": prepared,
        "expected": prepared if campaign.prepared_at else max(campaign.expected_recipients, prepared),
    }


def campaign_messages(*, campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(campaign=campaign).order_by("-created_at", "-id")
