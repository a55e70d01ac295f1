"""What an account owner's home page shows, in four queries whatever the account's size."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from accounts.models import Account
from campaigns.models import Campaign
from campaigns.selectors import campaign_stats
from reports.filters import UsageQuery
from reports.selectors import STATUSES, delivery_rate, usage_report

CHART_DAYS = 30
RECENT_CAMPAIGNS = 5


@dataclass
class Usage:
    messages: int = 0
    credits: int = 0  # spent: a failed message's credits were refunded


@dataclass
class HomeFigures:
    account: Account
    low_credits: bool
    today: Usage
    month: Usage
    delivery_rate_7: float | None  # reports.selectors.delivery_rate
    delivery_rate_30: float | None
    days: list[dict]  # oldest first: {"day": date, "queued": n, "sent": n, …}
    campaigns: list[Campaign]  # newest first, each with `.stats` (as campaigns.selectors.campaign_stats gives them)


def home_figures(*, account_id) -> HomeFigures:
    """In four queries: the account, its usage report (the rollup, reports.selectors), its latest campaigns
    and their counts (the same rollup)."""
    account = Account.objects.get(pk=account_id)
    today = timezone.localdate()
    first_day = min(today - timedelta(days=CHART_DAYS - 1), today.replace(day=1))
    report = usage_report(account_id=account_id, query=UsageQuery(date_from=first_day, date_to=today))
    by_day = {
        date.fromisoformat(group["day"]): {"credits": group["credits_spent"]}
        | {status: group["messages"][status] for status in STATUSES}
        for group in report["groups"]
    }
    days = [{"day": today - timedelta(days=offset)} | by_day[today - timedelta(days=offset)]
            for offset in range(CHART_DAYS - 1, -1, -1)]  # fmt: skip
    campaigns = list(Campaign.objects.filter(account_id=account_id).order_by("-created_at")[:RECENT_CAMPAIGNS])
    stats = campaign_stats(campaign_ids=[campaign.pk for campaign in campaigns])
    for campaign in campaigns:
        campaign.stats = stats[campaign.pk]
    return HomeFigures(
        account=account,
        low_credits=account.sms_credits < account.low_credits_threshold,
        today=_usage([by_day[today]]),
        month=_usage([counts for day, counts in by_day.items() if day >= today.replace(day=1)]),
        delivery_rate_7=_rate(days[-7:]),
        delivery_rate_30=_rate(days),
        days=days,
        campaigns=campaigns,
    )


def _usage(counts: list[dict]) -> Usage:
    return Usage(
        messages=sum(sum(day[status] for status in STATUSES) for day in counts),
        credits=sum(day["credits"] for day in counts),
    )


def _rate(days: list[dict]) -> float | None:
    return delivery_rate(
        delivered=sum(day["delivered"] for day in days), undelivered=sum(day["undelivered"] for day in days)
    )
