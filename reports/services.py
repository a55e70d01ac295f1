"""The daily usage rollup: fold the triggers' changes into it (beat, every REPORTS_COMPACT_INTERVAL), or rebuild
it from the messages (after a migration dropped the triggers, or by hand: `manage.py usage_rebuild`)."""

import uuid
from collections import defaultdict
from datetime import UTC, date

from django.db import connections, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from messaging.models import Message

from .models import DailyUsage, UsageChange

KEY = ("account_id", "day", "sender", "campaign_id", "status")
COUNTS = ("messages", "segments", "credits")
_DAYS_PER_DELETE = 300


def usage_compact(*, using: str = "default") -> int:
    """Move every change into the rollup: one row per (account, day, sender, campaign, status) touched, the
    sum of the rows it had and of its changes. Returns how many changes were folded.

    Each row moves exactly once, whoever else runs (a DELETE … RETURNING gives this call the rows it deleted
    and no one else gets them), and the report, which adds the rollup and the changes in one statement, sees
    either every row before the move or every row after it.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        changes = _delete_returning(connection, UsageChange, "", [])
        if not changes:
            return 0
        days = sorted({(row[0], row[1]) for row in changes})
        folded = list(changes)
        for start in range(0, len(days), _DAYS_PER_DELETE):
            chunk = days[start : start + _DAYS_PER_DELETE]
            pairs = ", ".join(["(%s, %s)"] * len(chunk))
            params = [value for account_id, day in chunk for value in _key_params(connection, account_id, day)]
            folded += _delete_returning(connection, DailyUsage, f"WHERE (account_id, day) IN (VALUES {pairs})", params)
        DailyUsage.objects.using(using).bulk_create(_usage_rows(folded, DailyUsage), batch_size=1000)
    return len(changes)


def usage_rebuild(*, account_id=None, using: str = "default") -> int:
    """Recompute the rollup (of one account, or of all) from the messages, forgetting its changes. On
    PostgreSQL the messages' writers wait meanwhile (a SHARE lock), so nothing is counted twice or missed.
    Returns how many rollup rows it wrote."""
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Message._meta.db_table} IN SHARE MODE")
        messages = Message.objects.using(using).all()
        changes, usage = UsageChange.objects.using(using).all(), DailyUsage.objects.using(using).all()
        if account_id is not None:
            messages = messages.filter(account_id=account_id)
            changes, usage = changes.filter(account_id=account_id), usage.filter(account_id=account_id)
        changes.delete()
        usage.delete()
        rows = [DailyUsage(**row) for row in usage_aggregate(messages)]
        DailyUsage.objects.using(using).bulk_create(rows, batch_size=1000)
    return len(rows)


def usage_aggregate(messages: QuerySet) -> QuerySet:
    """`messages` counted as the rollup counts them: dicts of KEY and COUNTS (a direct GROUP BY, for a rebuild
    and to check the rollup against). Works on a migration's historical Message too."""
    return (
        messages.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values(*KEY)
        .annotate(messages=Count("id"), segments=Sum("segments"), credits=Sum("credits"))
        .order_by()
    )


def _delete_returning(connection, model, where: str, params: list) -> list[tuple]:
    """DELETE the rows of `model` that `where` keeps, returning their KEY and COUNTS.

    Raw SQL: the ORM deletes without RETURNING, and reading the rows first would let a concurrent compaction
    fold them too. PostgreSQL and SQLite (3.35+) both have DELETE … RETURNING.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} {where} RETURNING {', '.join(KEY + COUNTS)}", params)
        return [_normalised(row) for row in cursor.fetchall()]


def _normalised(row: tuple) -> tuple:
    """A row as the same Python values on every database (SQLite gives UUIDs and dates as text)."""
    account_id, day, sender, campaign_id, status, *counts = row
    return (
        account_id if isinstance(account_id, uuid.UUID) else uuid.UUID(account_id),
        day if isinstance(day, date) else date.fromisoformat(day),
        sender,
        campaign_id if campaign_id is None or isinstance(campaign_id, uuid.UUID) else uuid.UUID(campaign_id),
        status,
        *(int(count) for count in counts),
    )


def _key_params(connection, account_id: uuid.UUID, day: date) -> list:
    return [
        DailyUsage._meta.get_field("account").get_db_prep_value(account_id, connection),
        DailyUsage._meta.get_field("day").get_db_prep_value(day, connection),
    ]


def _usage_rows(rows: list[tuple], model) -> list:
    """One row per key with the sum of `rows`, leaving out keys whose counts add up to nothing."""
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        counts = totals[row[:5]]
        for index, value in enumerate(row[5:]):
            counts[index] += value
    return [
        model(**dict(zip(KEY, key, strict=True)), **dict(zip(COUNTS, counts, strict=True)))
        for key, counts in totals.items()
        if any(counts)
    ]
