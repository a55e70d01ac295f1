from datetime import UTC, time, timedelta

from django.db.models import OuterRef, QuerySet, Subquery, Sum

from campaigns.models import Campaign
from messaging.filters import MessageFilters
from messaging.models import Message

from .filters import UsageQuery
from .models import DailyUsage, UsageChange

STATUSES = [status.value for status in Message.Status]
_KEYS = {"day": ("day",), "sender": ("sender",), "campaign": ("campaign_id",)}


def usage_report(*, account_id, query: UsageQuery) -> dict:
    """The account's messages created on the days of `query` (UTC), in groups of `query.group_by`, and their
    totals, in ONE query: the rollup's rows and the changes not yet folded into it, added up (UNION ALL).
    Exact at every moment: the changes are written with the messages' own (reports.triggers).

    `account_id` None means every account's (operators in the dashboard only; the API passes the key's).

    Answers {"from", "to", "group_by", "time_zone", "totals": counts, "groups": [{<key>, **counts}]}, where
    counts are {"messages": {"total", "queued", "sent", "delivered", "undelivered", "failed"}, "segments",
    "credits_charged", "credits_refunded", "credits_spent", "delivery_rate"}:

    - `messages`: how many were created in the group, by the status each has now (`sent`: taken by a gateway,
      no final receipt yet);
    - `credits_charged`: what they were charged when created; `credits_refunded`: what came back for those
      that failed (every failed message is refunded, billing's ledger says so); `credits_spent`: the
      difference, what the messages cost;
    - `delivery_rate`: delivered ÷ (delivered + undelivered), the messages with a final receipt, rounded to
      four places; null when none has one yet. Failed ones never reached a network and do not count.

    Groups: `day` lists every day of the range, oldest first (empty ones with zeros), `{"day": "2026-11-24"}`;
    `sender` and `campaign` only those with messages, most messages first, `{"sender": "MyBrand"}`,
    `{"campaign_id": …, "campaign_name": …}` (both null for messages sent on their own).
    """
    key = _KEYS[query.group_by]
    rows = _usage_rows(DailyUsage, account_id=account_id, query=query, key=key).union(
        _usage_rows(UsageChange, account_id=account_id, query=query, key=key), all=True
    )
    groups: dict[tuple, dict] = {}
    if query.group_by == "day":
        for offset in range(query.days):
            day = query.date_from + timedelta(days=offset)
            groups[(day,)] = {"day": day.isoformat(), **_empty_counts()}
    totals = _empty_counts()
    for row in rows:
        group_key = tuple(row[name] for name in key)
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = {**_group_fields(query.group_by, row), **_empty_counts()}
        for counts in (group, totals):
            _add(counts, row)
    listed = [_finished(group) for group in groups.values()]
    if query.group_by == "day":
        listed.sort(key=lambda group: group["day"])
    else:
        listed = [group for group in listed if group["messages"]["total"] or group["segments"]]
        name = "sender" if query.group_by == "sender" else "campaign_name"
        listed.sort(key=lambda group: (-group["messages"]["total"], group[name] or "", str(group.get("campaign_id"))))
    return {
        "from": query.date_from.isoformat(),
        "to": query.date_to.isoformat(),
        "group_by": query.group_by,
        "time_zone": "UTC",
        "totals": _finished(totals),
        "groups": listed,
    }


def usage_message_count(*, account_id, filters: MessageFilters) -> int | None:
    """How many of the account's messages pass `filters`, added up from the rollup and its pending changes in
    one query (one snapshot: a compaction moving changes into the rollup meanwhile is seen whole or not at all),
    or None when a filter is not one the rollup is kept by: a phone, or `from`/`to` not at a UTC midnight.

    The messages list's count: a COUNT(*) reads every matching message (80 ms at 1,000,000 of one account),
    this reads the account's rows of the rollup (one a day, sender, campaign and status) and its changes.
    """
    if filters.phone is not None:
        return None
    narrowing = {"status": filters.status, "sender__iexact": filters.sender, "campaign_id": filters.campaign_id}
    for lookup, instant in (("day__gte", filters.created_from), ("day__lt", filters.created_before)):
        if instant is not None:
            utc = instant.astimezone(UTC)
            if utc.time() != time.min:
                return None
            narrowing[lookup] = utc.date()
    narrowed = {name: value for name, value in narrowing.items() if value is not None}
    return sum(int(row["messages"]) for row in _messages_summed(("account_id",), account_id=account_id, **narrowed))


def usage_campaign_messages(*, campaign_ids) -> dict:
    """How many messages each campaign has in each status, {campaign_id: {status: n}} (only the statuses it has),
    added up from the rollup and its pending changes in one query: a campaign's page and the lists' rows read
    its rows of the rollup (one a day and status) and its changes, not its messages (counting those took 67 ms at
    100,000: looked at every 0.5 s while it sent, 2.8 s of PostgreSQL's 19 s in bench/campaign.py)."""
    counts: dict = {}
    for row in _messages_summed(("campaign_id", "status"), campaign_id__in=campaign_ids):
        by_status = counts.setdefault(row["campaign_id"], {})
        by_status[row["status"]] = by_status.get(row["status"], 0) + int(row["messages"])
    return counts


def _messages_summed(key: tuple, **filters) -> QuerySet:
    """The messages of the rollup's rows and of its pending changes that match `filters`, summed per `key` in
    each, as one query (UNION ALL, one snapshot): a caller adds up the rows of a key."""
    sums = [
        model.objects.filter(**filters).values(*key).annotate(messages=Sum("messages")).order_by()
        for model in (DailyUsage, UsageChange)
    ]
    return sums[0].union(sums[1], all=True)


def _usage_rows(model, *, account_id, query: UsageQuery, key: tuple) -> QuerySet:
    rows = model.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    rows = (
        rows.values(*key, "status")
        .annotate(messages=Sum("messages"), segments=Sum("segments"), credits=Sum("credits"))
        .order_by()
    )
    if key == ("campaign_id",):
        # The name per group, after grouping: a join would run for every row read (measured: twice the time of
        # the other groupings with 40,000 changes pending).
        names = Campaign.objects.filter(pk=OuterRef("campaign_id")).order_by().values("name")[:1]
        rows = rows.annotate(campaign_name=Subquery(names))
    return rows


def _group_fields(group_by: str, row: dict) -> dict:
    if group_by == "sender":
        return {"sender": row["sender"]}
    campaign_id = row["campaign_id"]
    return {"campaign_id": str(campaign_id) if campaign_id else None, "campaign_name": row["campaign_name"]}


def _empty_counts() -> dict:
    return {
        "messages": {"total": 0, **dict.fromkeys(STATUSES, 0)},
        "segments": 0,
        "credits_charged": 0,
        "credits_refunded": 0,
    }


def _add(counts: dict, row: dict) -> None:
    messages, status = int(row["messages"]), row["status"]
    counts["messages"]["total"] += messages
    if status in counts["messages"]:
        counts["messages"][status] += messages
    counts["segments"] += int(row["segments"])
    counts["credits_charged"] += int(row["credits"])
    if status == Message.Status.FAILED:
        counts["credits_refunded"] += int(row["credits"])


def delivery_rate(*, delivered: int, undelivered: int) -> float | None:
    """delivered ÷ (delivered + undelivered), the messages with a final receipt, to four places; None while
    none has one."""
    final = delivered + undelivered
    return round(delivered / final, 4) if final else None


def _finished(counts: dict) -> dict:
    messages = counts["messages"]
    return {
        **counts,
        "credits_spent": counts["credits_charged"] - counts["credits_refunded"],
        "delivery_rate": delivery_rate(
            delivered=messages[Message.Status.DELIVERED], undelivered=messages[Message.Status.UNDELIVERED]
        ),
    }
