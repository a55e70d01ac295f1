"""The rollup behind the usage report: the triggers' changes, their compaction, a rebuild, and what keeps it."""

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.checks import Error
from django.db import connection, transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Value, When
from django.utils import timezone

from messaging.models import Message
from reports.checks import time_zone_is_utc
from reports.filters import UsageQuery
from reports.models import DailyUsage, UsageChange
from reports.selectors import usage_report
from reports.services import usage_aggregate, usage_compact, usage_rebuild
from reports.tasks import usage_compact as usage_compact_task
from reports.triggers import TRIGGERS, usage_triggers_ensure, usage_triggers_present, usage_triggers_sql
from tests.factories import AccountFactory, MessageFactory

from ..billing.test_concurrency import run_concurrently


def rollup(account) -> dict:
    """The rollup and its changes added up per key, without zeros: what a report reads."""
    totals = {}
    for model in (DailyUsage, UsageChange):
        for row in model.objects.filter(account=account):
            key = (row.day, row.sender, row.campaign_id, row.status)
            counts = totals.setdefault(key, [0, 0, 0])
            for index, value in enumerate((row.messages, row.segments, row.credits)):
                counts[index] += value
    return {key: tuple(counts) for key, counts in totals.items() if any(counts)}


def aggregated(account) -> dict:
    rows = usage_aggregate(Message.objects.filter(account=account))
    return {
        (row["day"], row["sender"], row["campaign_id"], row["status"]): (
            row["messages"],
            row["segments"],
            row["credits"],
        )
        for row in rows
    }


def test_every_insert_status_change_and_delete_is_counted_with_it(account):
    message = MessageFactory(account=account, segments=2, credits=2)
    today = timezone.now().date()
    assert rollup(account) == {(today, "MyBrand", None, "queued"): (1, 2, 2)}

    Message.objects.filter(pk=message.pk).update(status="sent")
    assert rollup(account) == {(today, "MyBrand", None, "sent"): (1, 2, 2)}

    message.delete()
    assert rollup(account) == {}


def test_an_update_that_changes_no_counted_column_writes_no_change(account):
    MessageFactory.create_batch(3, account=account)
    before = UsageChange.objects.count()

    Message.objects.filter(account=account).update(next_attempt_at=timezone.now(), attempts=2, error="later")

    assert UsageChange.objects.count() == before


def test_one_update_of_many_messages_counts_what_changed_and_nothing_else(account):
    moved, resized, _unchanged = (MessageFactory.create_batch(count, account=account) for count in (2, 1, 3))
    before = set(UsageChange.objects.values_list("pk", flat=True))
    today = timezone.now().date()

    Message.objects.filter(account=account).update(
        status=Case(When(pk__in=[message.pk for message in moved], then=Value("sent")), default=F("status")),
        segments=Case(
            When(pk=resized[0].pk, then=Value(2)), default=F("segments"), output_field=PositiveSmallIntegerField()
        ),
        error="touched",
    )

    expected = {(today, "MyBrand", None, "queued"): (4, 5, 4), (today, "MyBrand", None, "sent"): (2, 2, 2)}
    assert rollup(account) == aggregated(account) == expected
    if connection.vendor == "postgresql":  # one statement, one row per key changed (SQLite: one per message)
        written = UsageChange.objects.exclude(pk__in=before)
        assert sorted(written.values_list("status", "messages", "segments", "credits")) == [
            ("queued", -2, -1, -2),
            ("sent", 2, 2, 2),
        ]


@pytest.mark.postgres
def test_the_update_trigger_never_joins_the_statements_rows_whatever_its_first_call(account):
    """PL/pgSQL plans the trigger's statement once per connection, with its first call's rows: a join planned as
    a nested loop for one row compared every pair of rows of each later batch. Its plan, as auto_explain says it."""
    MessageFactory.create_batch(50, account=account)
    plans = []

    def keep(diagnostic) -> None:
        plans.append(diagnostic.message_primary)

    connection.ensure_connection()
    connection.connection.add_notice_handler(keep)
    try:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_level = notice"):
                cursor.execute(f"SET LOCAL auto_explain.{setting}")
            cursor.execute("SET LOCAL client_min_messages = notice")
        first = Message.objects.filter(account=account).values("pk")[:1]
        Message.objects.filter(pk__in=first).update(status="sent")
        Message.objects.filter(account=account, status="queued").update(status="sent")
    finally:  # the connection outlives the test
        connection.connection.remove_notice_handler(keep)
    trigger_plans = [plan for plan in plans if "INSERT INTO reports_usagechange" in plan]

    assert len(trigger_plans) == 2
    assert not [plan for plan in trigger_plans if "Join" in plan or "Nested Loop" in plan]
    assert rollup(account) == aggregated(account) == {(timezone.now().date(), "MyBrand", None, "sent"): (50, 50, 50)}


def test_compaction_folds_the_changes_into_one_row_per_key_and_changes_no_total(account):
    messages = MessageFactory.create_batch(5, account=account)
    Message.objects.filter(pk__in=[m.pk for m in messages[:2]]).update(status="failed")
    before = rollup(account)

    assert usage_compact() > 0

    assert UsageChange.objects.count() == 0
    assert rollup(account) == before == aggregated(account)
    assert sorted(DailyUsage.objects.values_list("status", "messages")) == [("failed", 2), ("queued", 3)]
    Message.objects.filter(pk=messages[2].pk).update(status="failed")
    usage_compact()
    assert sorted(DailyUsage.objects.values_list("status", "messages")) == [("failed", 3), ("queued", 2)]
    assert usage_compact() == 0  # nothing left to fold


def test_a_rebuild_recomputes_the_rollup_from_the_messages(account):
    other = AccountFactory()
    MessageFactory.create_batch(3, account=account)
    MessageFactory(account=other)
    usage_compact()
    DailyUsage.objects.filter(account=account).update(messages=999)  # drifted, somehow

    usage_rebuild(account_id=account.pk)

    assert rollup(account) == aggregated(account)
    assert rollup(other) == aggregated(other)
    assert usage_rebuild() == DailyUsage.objects.count() == 2


def test_triggers_lost_with_their_table_are_put_back_by_migrate_with_the_rollup_rebuilt(account):
    """Django rebuilds a table to alter it on SQLite, and its triggers go with it: post_migrate puts them back."""
    MessageFactory(account=account)
    with connection.cursor() as cursor:
        for sql in usage_triggers_sql(connection.vendor, drop=True):
            cursor.execute(sql)
    MessageFactory(account=account)  # not counted while the triggers are missing
    assert usage_triggers_present() == set()

    assert usage_triggers_ensure() is True

    assert usage_triggers_present() == set(TRIGGERS)
    assert rollup(account) == aggregated(account)
    assert usage_triggers_ensure() is False  # nothing to do


def test_the_periodic_task_compacts_and_skips_while_another_run_holds_the_lock(account):
    MessageFactory(account=account)

    cache.add("lock:usage_compact", 1, timeout=60)
    try:
        assert usage_compact_task() is None
    finally:
        cache.delete("lock:usage_compact")
    assert usage_compact_task() == 1


def test_the_days_are_utc_days_and_the_check_says_so(account, settings):
    message = MessageFactory(account=account)
    late = timezone.now().replace(hour=23, minute=30) - timedelta(days=3)  # the next day in Harare
    Message.objects.filter(pk=message.pk).update(created_at=late)

    report = usage_report(account_id=account.pk, query=UsageQuery(date_from=late.date(), date_to=late.date()))
    assert report["totals"]["messages"]["total"] == 1

    assert time_zone_is_utc(None) == []
    settings.TIME_ZONE = "Africa/Harare"
    assert [error.id for error in time_zone_is_utc(None)] == ["reports.E001"]
    assert isinstance(time_zone_is_utc(None)[0], Error)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_compactions_and_changes_never_lose_or_double_a_count():
    """Writers commit changes while several compactions run at once: each change row moves exactly once."""
    account = AccountFactory()
    MessageFactory.create_batch(200, account=account)
    ids = list(Message.objects.filter(account=account).values_list("pk", flat=True))
    stop, writers_done, lock = threading.Event(), [], threading.Lock()

    def work(index: int):
        if index < 2:  # writers: one status change per statement, committed each time
            for message_id in ids[index::2]:
                with transaction.atomic():
                    Message.objects.filter(pk=message_id).update(status="sent")
            return "written"
        moved = 0
        while not stop.is_set():
            moved += usage_compact()
        return moved

    def run(index: int):
        try:
            return work(index)
        finally:
            if index < 2:
                with lock:
                    writers_done.append(index)
                    if len(writers_done) == 2:
                        stop.set()

    results = run_concurrently(run, 5)

    assert results[:2] == ["written", "written"], results
    assert not [result for result in results if isinstance(result, Exception)], results
    usage_compact()
    assert rollup(account) == aggregated(account) == {(timezone.now().date(), "MyBrand", None, "sent"): (200, 200, 200)}
