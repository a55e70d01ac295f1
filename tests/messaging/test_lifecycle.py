"""After the request: retries with backoff, the final failure and its refund, delivery reports."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from billing.models import Transaction
from messaging.models import Message
from messaging.services import message_retry_due
from messaging.tasks import messages_sweep

SEND_URL = "/api/v1/sms/send/"


@pytest.fixture
def queued_message(api_client, sender, gateway_mode) -> Message:
    """A message the gateway failed to take during the request."""
    gateway_mode("fail")
    api_client.post(SEND_URL, {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}, format="json")
    return Message.objects.get()


def make_due(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_due_retry_sends_the_message_once_the_gateway_is_back(queued_message, gateway_mode, outbox):
    gateway_mode("accept")
    make_due(queued_message)

    message_retry_due(message_id=queued_message.pk)

    queued_message.refresh_from_db()
    assert (queued_message.status, queued_message.attempts, queued_message.error) == ("sent", 2, "")
    assert queued_message.sent_at is not None
    assert len(outbox) == 2  # the failed attempt and this one


def test_a_retry_that_is_not_due_does_nothing(queued_message, gateway_mode, outbox):
    gateway_mode("accept")

    message_retry_due(message_id=queued_message.pk)

    queued_message.refresh_from_db()
    assert (queued_message.status, queued_message.attempts) == ("queued", 1)


def test_retries_back_off_exponentially(queued_message, settings, enqueued):
    delays = []
    for _ in range(3):
        make_due(queued_message)
        before = timezone.now()
        message_retry_due(message_id=queued_message.pk)
        queued_message.refresh_from_db()
        delays.append(round((queued_message.next_attempt_at - before).total_seconds()))

    assert delays == [20, 40, 80]
    assert queued_message.attempts == 4
    # Each failed retry queues the next for when it is due.
    assert [(task.name, task.args, round(task.countdown)) for task in enqueued] == [
        ("messaging.tasks.message_retry", [str(queued_message.pk)], delay) for delay in delays
    ]


def test_backoff_is_capped(queued_message, settings):
    settings.SMS_RETRY_MAX_DELAY = 30
    Message.objects.filter(pk=queued_message.pk).update(attempts=6)
    make_due(queued_message)
    before = timezone.now()

    message_retry_due(message_id=queued_message.pk)

    queued_message.refresh_from_db()
    assert round((queued_message.next_attempt_at - before).total_seconds()) == 30


def test_after_the_last_attempt_the_message_fails_and_is_refunded_once(queued_message, account, settings, enqueued):
    settings.SMS_SUBMIT_MAX_ATTEMPTS = 3
    for _ in range(4):
        make_due(queued_message)
        message_retry_due(message_id=queued_message.pk)

    queued_message.refresh_from_db()
    assert (queued_message.status, queued_message.attempts) == ("failed", 3)
    assert queued_message.error == "The fake gateway is unavailable."
    refunds = Transaction.objects.filter(account=account, type="refund")
    assert [(row.amount, row.reference) for row in refunds] == [(1, str(queued_message.pk))]
    assert Account.objects.get(pk=account.pk).sms_credits == 100
    assert len(enqueued) == 1  # the second attempt queued the third; the third, failing for good, nothing


def test_a_rejection_on_retry_fails_and_refunds(queued_message, account, gateway_mode):
    gateway_mode("reject")
    make_due(queued_message)

    message_retry_due(message_id=queued_message.pk)

    queued_message.refresh_from_db()
    assert queued_message.status == "failed"
    assert Account.objects.get(pk=account.pk).sms_credits == 100


def test_the_sweeper_picks_up_only_overdue_queued_messages(queued_message, settings, enqueued):
    settings.SMS_SWEEP_GRACE = 60
    assert messages_sweep() == 0  # its retry is not even due yet
    assert enqueued == []

    Message.objects.filter(pk=queued_message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=61))
    assert messages_sweep() == 1
    assert enqueued == [("messaging.tasks.message_retry", [str(queued_message.pk)], {}, None)]


def test_the_sweeper_skips_while_another_run_holds_its_lock(queued_message):
    from django.core.cache import cache

    Message.objects.filter(pk=queued_message.pk).update(next_attempt_at=timezone.now() - timedelta(hours=1))
    cache.add("lock:messages_sweep", 1, timeout=60)
    try:
        assert messages_sweep() is None
    finally:
        cache.delete("lock:messages_sweep")
    assert messages_sweep() == 1
