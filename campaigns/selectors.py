from django.db.models import QuerySet

from messaging.models import Message
from reports.selectors import usage_campaign_messages
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
    """Live counts per campaign, in one query for any number of campaigns, from the usage rollup (exact at
    every moment: reports.triggers writes it with the messages' own changes).

    `sent` counts every message the gateway took (delivered and undelivered too); `failed`
    those rejected, out of attempts, or cancelled before they left.
    """
    counts = usage_campaign_messages(campaign_ids=campaign_ids)
    return {campaign_id: _stats(counts.get(campaign_id, {})) for campaign_id in campaign_ids}


def campaign_stats_of(campaign: Campaign) -> dict:
    return campaign_stats(campaign_ids=[campaign.pk])[campaign.pk]


def _stats(by_status: dict) -> dict:
    return {
        "recipients": sum(by_status.values()),
        "queued": by_status.get(Message.Status.QUEUED, 0),
        "sent": sum(by_status.get(status, 0) for status in _SENT),
        "delivered": by_status.get(Message.Status.DELIVERED, 0),
        "failed": by_status.get(Message.Status.FAILED, 0),
    }


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
