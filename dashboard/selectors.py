"""What an account owner's home page shows, read in a few queries whatever the account's size."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from campaigns.models import Campaign
from campaigns.selectors import campaign_stats
from messaging.models import Message

CHART_DAYS = 30
RECENT_CAMPAIGNS = 5
STATUSES = [status.value for status in Message.Status]


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
    delivery_rate_7: float | None  # delivered ÷ (delivered + undelivered), None with no final status yet
    delivery_rate_30: float | None
    days: list[dict]  # oldest first: {"day": date, "queued": n, "sent": n, …}
    campaigns: list[Campaign]  # newest first, each with `.stats` (campaigns.selectors.campaign_stats)


def delivery_rate(delivered: int, undelivered: int) -> float | None:
    final = delivered + undelivered
    return delivered / final if final else None


def home_figures(*, account_id) -> HomeFigures:
    account = Account.objects.get(pk=account_id)
    today = timezone.localdate()
    first_day = min(today - timedelta(days=CHART_DAYS - 1), today.replace(day=1))
    rows = (
        Message.objects.filter(account_id=account_id, created_at__date__gte=first_day)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "status")
        .annotate(count=Count("id"), credits=Sum("credits", filter=~Q(status=Message.Status.FAILED)))
        .order_by()
    )
    by_day: dict[date, dict] = {}
    for day, status, count, credits in rows:
        counts = by_day.setdefault(day, {"credits": 0} | dict.fromkeys(STATUSES, 0))
        counts[status] += count
        counts["credits"] += credits or 0
    chart_days = [today - timedelta(days=offset) for offset in range(CHART_DAYS - 1, -1, -1)]
    days = [{"day": day} | by_day.get(day, {"credits": 0} | dict.fromkeys(STATUSES, 0)) for day in chart_days]
    campaigns = list(Campaign.objects.filter(account_id=account_id).order_by("-created_at")[:RECENT_CAMPAIGNS])
    stats = campaign_stats(campaign_ids=[campaign.pk for campaign in campaigns])
    for campaign in campaigns:
        campaign.stats = stats[campaign.pk]
    return HomeFigures(
        account=account,
        low_credits=account.sms_credits < account.low_credits_threshold,
        today=_usage(by_day, [today]),
        month=_usage(by_day, [day for day in by_day if day >= today.replace(day=1)]),
        delivery_rate_7=_rate(days[-7:]),
        delivery_rate_30=_rate(days),
        days=days,
        campaigns=campaigns,
    )


def _usage(by_day: dict, days: list[date]) -> Usage:
    counts = [by_day[day] for day in days if day in by_day]
    return Usage(
        messages=sum(sum(day[status] for status in STATUSES) for day in counts),
        credits=sum(day["credits"] for day in counts),
    )


def _rate(days: list[dict]) -> float | None:
    return delivery_rate(sum(day["delivered"] for day in days), sum(day["undelivered"] for day in days))
