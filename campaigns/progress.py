"""A campaign's progress as the dashboard draws it: what was delivered, sent, failed and refunded, and what is
still to go, so that a cancelled or paused campaign never looks like a completed one."""

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from .models import Campaign
from .selectors import campaign_preparation_of

# What each status says under the bar; the bar's colours are in dashboard.css (.progress .part-*).
SUMMARIES = {
    Campaign.Status.DRAFT: "Draft: not sent",
    Campaign.Status.SCHEDULED: "Scheduled",
    Campaign.Status.SENDING: "Sending",
    Campaign.Status.PAUSED: "Paused",
    Campaign.Status.COMPLETED: "Completed",
    Campaign.Status.CANCELLED: "Cancelled",
}


def campaign_progress(*, campaign: Campaign, stats: dict) -> SafeString:
    """The bar and its summary, from `campaigns.selectors.campaign_stats` counts. While its messages are being
    prepared the bar is out of the recipients expected, and the summary says how many are written."""
    preparation = campaign_preparation_of(campaign, stats)
    recipients = stats["recipients"]
    total = preparation["expected"] if preparation["preparing"] else recipients
    sent_only = stats["sent"] - stats["delivered"]  # taken by the gateway: awaiting a receipt, or undelivered
    parts = [
        ("delivered", "delivered", stats["delivered"]),
        ("sent", "sent", sent_only),
        ("failed", "failed, refunded", stats["failed"]),
        ("queued", "to go", stats["queued"]),
        ("unprepared", "to prepare", total - recipients),
    ]
    return render_to_string(
        "campaigns/progress.html",
        {
            "status": campaign.status,
            "summary": SUMMARIES.get(campaign.status, campaign.status),
            "preparation": preparation,
            "recipients": total,
            "handled": recipients - stats["queued"],
            "parts": [
                {"name": name, "label": label, "count": count, "percent": f"{count / total * 100:.2f}"}
                for name, label, count in parts
                if count and total
            ],
        },
    )
