"""A worker and Redis going away: real Celery workers on a redis-server of the test's own, stopped and started."""

import json
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from gateways.backends.fake import SHARED_OUTBOX_KEY
from gateways.base import Receipt, ReceiptStatus
from gateways.reports import receipts_apply_later
from messaging.models import Message
from messaging.tasks import messages_sweep
from tests.factories import AccountFactory, MessageFactory
from tests.redis_server import PrivateRedis, private_redis
from tests.worker import celery_worker, process_kill, wait_until

CONNECTION_LOST = "consumer: Connection to broker lost"  # what a worker logs when it notices


@pytest.fixture
def redis_server(tmp_path, settings):
    """A redis-server of the test's own as the workers' Redis (their cache, and their broker in its database 1)."""
    with private_redis(tmp_path / "redis") as server:
        settings.REDIS_URL = server.url()
        yield server


def machine_redis_url() -> str:
    """The Redis the test process was given, which outlives the private one."""
    return os.environ["REDIS_URL"]


@pytest.fixture
def shared_outbox():
    """What the fake gateway of every worker was asked to send (its `outbox_url`), in the machine's Redis."""
    outbox = redis.Redis.from_url(machine_redis_url())
    outbox.delete(SHARED_OUTBOX_KEY)
    yield outbox
    outbox.delete(SHARED_OUTBOX_KEY)


def messages_due(account, count: int) -> None:
    """Queued messages whose next attempt is due now: the sweeper of the worker's beat has them sent."""
    MessageFactory.create_batch(count, account=account, attempts=1, next_attempt_at=timezone.now())


def queued() -> bool:
    return Message.objects.filter(status=Message.Status.QUEUED).exists()


def stop_until_noticed(server: PrivateRedis, log: Path) -> None:
    """Stop the Redis server, and wait until the worker noticed, and a few seconds more (a worker that crashed did
    so within milliseconds of noticing)."""
    noticed = log.read_text().count(CONNECTION_LOST)
    server.stop()
    wait_until(lambda: log.read_text().count(CONNECTION_LOST) > noticed, log=log)
    time.sleep(3)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_holding_tasks_outlives_redis_outages_and_sends_what_was_accepted_meanwhile(
    redis_server, shared_outbox, tmp_path
):
    account = AccountFactory()
    log = tmp_path / "worker.log"
    # Delivery reports due in 30 s: the worker holds them (unacknowledged) when Redis goes.
    gateway = {"delivery_delay": 30, "outbox_url": machine_redis_url()}
    with celery_worker(tmp_path, beat=True, SMS_SWEEP_INTERVAL=1, SMS_SWEEP_GRACE=0, gateway_options=gateway) as worker:
        for _ in range(3):  # the crash showed in 2 outages of 3
            messages_due(account, 3)
            wait_until(lambda: not queued(), log=log)
            stop_until_noticed(redis_server, log)
            assert worker.poll() is None, log.read_text()[-3000:]
            messages_due(account, 2)  # accepted while Redis is away
            redis_server.start()
            wait_until(lambda: not queued(), timeout=60, log=log)  # sent once the worker is back on Redis

        assert worker.poll() is None

    # Nothing accepted is lost, nothing is sent twice. (A delivery report the restarted Redis lost leaves its message
    # `sent`, as an SMSC's lost receipt would.)
    assert set(Message.objects.values_list("status", flat=True)) <= {"sent", "delivered"}
    sent = Counter(json.loads(item)[0] for item in shared_outbox.lrange(SHARED_OUTBOX_KEY, 0, -1))
    assert sent == Counter({str(message_id): 1 for message_id in Message.objects.values_list("id", flat=True)})


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_delivery_reports_a_killed_worker_held_are_applied_by_another_within_the_visibility_timeout(
    redis_server, tmp_path
):
    account = AccountFactory()
    messages_due(account, 3)
    visibility_timeout = 20  # 600 s by default: the test waits it out
    environment = {"CELERY_VISIBILITY_TIMEOUT": visibility_timeout, "CELERY_BROKER_URL": redis_server.url(1)}
    unacknowledged = redis.Redis.from_url(redis_server.url(1))  # kombu keeps a worker's unacknowledged tasks here

    # The first worker sends the messages, takes their delivery reports, due in 10 s (half the visibility timeout, as
    # long as a task may wait), and is killed holding them.
    with celery_worker(tmp_path / "first", beat=True, SMS_SWEEP_INTERVAL=1, SMS_SWEEP_GRACE=0,
                       gateway_options={"delivery_delay": 10}, **environment) as first:  # fmt: skip
        wait_until(lambda: not queued(), log=first.log_path)
        wait_until(lambda: unacknowledged.hlen("unacked") == 3, log=first.log_path)
        process_kill(first)

    with celery_worker(tmp_path / "second", **environment) as second:
        # Handed out again once held for the visibility timeout: each worker looks every 10 s.
        wait_until(
            lambda: not Message.objects.exclude(status="delivered").exists(),
            timeout=visibility_timeout + 10 + 15,  # + the second worker's start
            log=second.log_path,
        )


def test_no_task_is_published_due_later_than_half_the_visibility_timeout(enqueued, settings):
    receipts_apply_later([Receipt(gateway="default", part_id="1", status=ReceiptStatus.DELIVERED)], delay=3600)

    [report] = enqueued
    # Else a worker would hold it past the visibility timeout, and Redis would hand it to another worker as well.
    assert report.countdown == pytest.approx(settings.TASK_COUNTDOWN_MAX, abs=1)


@pytest.mark.django_db
def test_a_retry_due_later_than_a_worker_may_hold_its_task_is_sent_by_the_sweeper(
    api_client, sender, gateway_mode, settings, enqueued
):
    settings.SMS_RETRY_BASE_DELAY = settings.TASK_COUNTDOWN_MAX + 1
    gateway_mode("fail")
    message_id = api_client.post(
        "/api/v1/sms/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}, format="json"
    ).json()["message_id"]
    assert enqueued == []  # a retry task would come early and do nothing

    overdue = timezone.now() - timedelta(seconds=settings.SMS_SWEEP_GRACE + settings.SMS_RETRY_BASE_DELAY)
    Message.objects.filter(pk=message_id).update(next_attempt_at=overdue)
    messages_sweep()

    assert [(task.name, task.args, task.countdown) for task in enqueued] == [
        ("messaging.tasks.message_retry", [message_id], None)
    ]
