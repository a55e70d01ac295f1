from django.db.models import Count, QuerySet

from messaging.models import Message
from smsplatform.errors import NotFound

from .models import Campaign

_SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.UNDELIVERED)


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
    stats = {
        campaign_id: {"recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "failed": 0}
        for campaign_id in campaign_ids
    }
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for campaign_id, status, count in rows:
        counts = stats[campaign_id]
        counts["recipients"] += count
        if status == Message.Status.QUEUED:
            counts["queued"] += count
        elif status == Message.Status.FAILED:
            counts["failed"] += count
        if status in _SENT:
            counts["sent"] += count
        if status == Message.Status.DELIVERED:
            counts["delivered"] += count
    return stats


def campaign_messages(*, campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(campaign=campaign).order_by("-created_at", "-id")
