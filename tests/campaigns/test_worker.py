"""Campaigns with real Celery workers on Redis and PostgreSQL, one of them killed mid-campaign."""

import json
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from campaigns.models import Campaign
from gateways.backends.fake import SHARED_OUTBOX_KEY
from messaging.models import Message
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import AccountFactory, SenderIdFactory, api_key_for
from tests.worker import broker_flush, celery_worker, process_kill, wait_until

from .helpers import make_group

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 3000
BATCH_SIZE = 100


def draft_to_a_group(size: int, *, credits: int, **fields) -> tuple[Account, APIClient, str]:
    """An account with `credits`, its approved sender ID MyBrand and a group of `size`, its key's client, and a
    draft campaign to the group made through the API; the broker emptied."""
    account = AccountFactory(credits=credits)
    SenderIdFactory(account=account, name="MyBrand")
    group = make_group(account, size)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(account))
    broker_flush()
    campaign_id = client.post(
        "/api/v1/campaigns/",
        {"name": "Test", "message": "Hi {name}!", "sender_name": "MyBrand", "group_id": str(group.pk), **fields},
        format="json",
    ).json()["id"]
    return account, client, campaign_id


def finish_with_a_second_worker(tmp_path, campaign_id, size: int, worker_settings: dict, *, timeout: float) -> None:
    """Another worker, with beat restarting within seconds what the killed one left, until the campaign completes;
    then every recipient has exactly one message, sent."""
    with celery_worker(
        tmp_path / "second", beat=True, CAMPAIGN_SWEEP_INTERVAL=1, CAMPAIGN_STALL_SECONDS=2, **worker_settings
    ) as second:
        wait_until(
            lambda: Campaign.objects.get(pk=campaign_id).status == "completed", timeout=timeout, log=second.log_path
        )
    messages = Message.objects.filter(campaign_id=campaign_id)
    assert messages.count() == size
    assert messages.values("contact").distinct().count() == size
    assert not messages.filter(status="queued").exists()
    assert messages.filter(status="sent").count() == size


def test_a_campaign_survives_a_killed_worker_sending_each_recipient_once(tmp_path, real_broker):
    account, client, campaign_id = draft_to_a_group(RECIPIENTS, credits=RECIPIENTS + 500)
    shared_outbox = redis.Redis.from_url(settings.REDIS_URL)
    shared_outbox.delete(SHARED_OUTBOX_KEY)  # another run's submissions
    worker_settings = {
        "gateway_options": {"delivery_delay": None, "latency": 0.05, "outbox_url": settings.REDIS_URL},
        "concurrency": 2,
        "CAMPAIGN_BATCH_SIZE": BATCH_SIZE,
        "SMS_SUBMIT_TIMEOUT": 1,  # leases of 7 s: the killed worker's rows come back soon
    }

    with celery_worker(tmp_path / "first", **worker_settings) as first:
        assert client.post(f"/api/v1/campaigns/{campaign_id}/send/").status_code == 202
        wait_until(lambda: Message.objects.filter(status="sent").count() >= RECIPIENTS // 4, log=first.log_path)
        process_kill(first)
    sent_before_the_kill = Message.objects.filter(status="sent").count()
    assert sent_before_the_kill < RECIPIENTS  # killed in the middle

    finish_with_a_second_worker(tmp_path, campaign_id, RECIPIENTS, worker_settings, timeout=120)

    submissions = Counter(json.loads(item)[1] for item in shared_outbox.lrange(SHARED_OUTBOX_KEY, 0, -1))
    assert len(submissions) == RECIPIENTS  # everyone got it
    repeated = sum(count - 1 for count in submissions.values())
    # At most the batches in flight when the worker died go out twice: one per pool process.
    assert repeated <= 2 * BATCH_SIZE, repeated
    print(f"\nkill test: {sent_before_the_kill} sent before the kill, {repeated} submitted twice")
    assert Account.objects.get(pk=account.pk).sms_credits == 500
    assert_ledger_matches(account.pk)


def test_a_scheduled_campaign_is_started_by_beat_when_due(tmp_path):
    due = timezone.now() + timedelta(seconds=3)
    _, client, campaign_id = draft_to_a_group(20, credits=100, scheduled_at=due.isoformat())
    assert client.post(f"/api/v1/campaigns/{campaign_id}/send/").json()["status"] == "scheduled"

    with celery_worker(tmp_path, beat=True, CAMPAIGN_SWEEP_INTERVAL=1, gateway_options={"delivery_delay": None}) as w:
        campaign = wait_until(
            lambda: Campaign.objects.filter(pk=campaign_id, status="completed").first(), log=w.log_path
        )

    assert campaign.started_at >= due
    assert Message.objects.filter(campaign_id=campaign_id, status="sent").count() == 20


def test_send_answers_at_once_and_a_preparation_killed_midway_resumes_with_each_recipient_once(
    tmp_path, real_broker, settings
):
    size, chunk = 6000, 50
    settings.CAMPAIGN_PREPARE_CHUNK = chunk  # the send/ request's first chunk, written here
    account, client, campaign_id = draft_to_a_group(size, credits=size + 500)
    worker_settings = {
        "gateway_options": {"delivery_delay": None, "latency": 0.05},
        "concurrency": 2,
        "CAMPAIGN_BATCH_SIZE": BATCH_SIZE,
        "CAMPAIGN_PREPARE_CHUNK": chunk,
    }

    with celery_worker(tmp_path / "first", **worker_settings) as first:
        response = client.post(f"/api/v1/campaigns/{campaign_id}/send/")
        assert response.status_code == 202
        assert response.json()["preparation"] == {"preparing": True, "prepared": chunk, "expected": size}
        wait_until(lambda: Message.objects.filter(campaign_id=campaign_id).count() >= size // 4, log=first.log_path)
        process_kill(first)
    prepared_before_the_kill = Message.objects.filter(campaign_id=campaign_id).count()
    assert Campaign.objects.get(pk=campaign_id).prepared_at is None  # killed while preparing
    assert client.get(f"/api/v1/campaigns/{campaign_id}/").json()["preparation"]["preparing"]

    finish_with_a_second_worker(tmp_path, campaign_id, size, worker_settings, timeout=180)

    print(f"\nkilled after {prepared_before_the_kill} of {size} prepared")
    assert Account.objects.get(pk=account.pk).sms_credits == 500
    assert_ledger_matches(account.pk)


def sessions_of_the_database() -> int:
    """Sessions PostgreSQL has started on the test database so far (counted when a backend reports its
    statistics: at once when it exits, within seconds while it lives)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def worker_backends() -> list[int]:
    """The backends on the test database other than this test's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_a_worker_keeps_its_database_connection_across_tasks_and_replaces_a_broken_one(tmp_path, real_broker):
    """Celery's Django fixup would close the connection around every task: each batch a new PostgreSQL backend.
    The worker keeps it as the web processes do, and replaces it once it is broken."""
    size, batch_size = 1500, 100  # 15 batches, each a task; the chunks after the first 1,000 another
    account, client, campaign_id = draft_to_a_group(size, credits=2 * size)
    worker_settings = {"gateway_options": {"delivery_delay": None}, "CAMPAIGN_BATCH_SIZE": batch_size}
    with celery_worker(tmp_path, **worker_settings) as worker:
        time.sleep(1.5)  # the sessions of its start (its checks) have ended and been counted
        sessions_before = sessions_of_the_database()
        assert client.post(f"/api/v1/campaigns/{campaign_id}/send/").status_code == 202
        wait_until(lambda: Campaign.objects.get(pk=campaign_id).status == "completed", log=worker.log_path)
        time.sleep(1.5)  # the backends of the tasks, had they been new, have exited and been counted
        # Its pool process's one session (not counted yet, maybe), not one a task.
        assert sessions_of_the_database() - sessions_before <= 1
        assert worker_backends()

        # Its connection broken (PostgreSQL terminated the backend): the next tasks find it broken before
        # their first statement (the health check of a connection idle for over a second) and connect again.
        with connection.cursor() as cursor:
            for pid in worker_backends():
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        time.sleep(1.5)
        _, client, second_id = draft_to_a_group(20, credits=100)
        assert client.post(f"/api/v1/campaigns/{second_id}/send/").status_code == 202
        wait_until(lambda: Campaign.objects.get(pk=second_id).status == "completed", log=worker.log_path)
    assert Message.objects.filter(campaign_id=campaign_id, status="sent").count() == size
    assert Message.objects.filter(campaign_id=second_id, status="sent").count() == 20
    assert_ledger_matches(account.pk)
