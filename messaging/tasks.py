"""Thin task shells over messaging.services: they take ids and are safe to run twice."""

import functools
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from gateways.base import Receipt, ReceiptStatus
from gateways.reports import RECEIPTS_TASK

from . import delivery, services
from .models import IdempotencyKey, InboundPart, Message

logger = logging.getLogger(__name__)

# Retry a queued message: acks_late + reject_on_worker_lost so a worker that dies mid-task
# leaves the task to be delivered again; the claim in the service makes a repeat harmless.
RELIABLE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**RELIABLE)
def message_retry(message_id: str) -> None:
    services.message_retry_due(message_id=message_id)


@shared_task(name=RECEIPTS_TASK, **RELIABLE)
def receipts_apply(receipts: list[dict]) -> None:
    delivery.receipts_apply(
        [Receipt(**{**receipt, "status": ReceiptStatus(receipt["status"])}) for receipt in receipts]
    )


def with_lock(name: str, timeout: int):
    """Run the periodic task only where no previous run still holds its lock (a non-blocking lock)."""

    def decorator(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            lock = f"lock:{name}"
            if not cache.add(lock, 1, timeout=timeout):
                logger.info("%s: a previous run still holds the lock; skipping", name)
                return None
            try:
                return function(*args, **kwargs)
            finally:
                cache.delete(lock)

        return wrapper

    return decorator


@shared_task(ignore_result=True)
@with_lock("messages_sweep", timeout=300)
def messages_sweep() -> int:
    """Enqueue queued messages whose retry task vanished (worker killed, broker flushed) or that had none
    (a retry due later than TASK_COUNTDOWN_MAX)."""
    overdue = timezone.now() - timedelta(seconds=settings.SMS_SWEEP_GRACE)
    message_ids = list(
        # Campaign messages are their campaign's batches' business (campaigns.tasks.campaigns_sweep).
        Message.objects.filter(status=Message.Status.QUEUED, next_attempt_at__lte=overdue, campaign__isnull=True)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[: settings.SMS_SWEEP_BATCH]
    )
    for message_id in message_ids:
        message_retry.delay(str(message_id))
    if message_ids:
        logger.info("messages_sweep: re-enqueued %d overdue queued messages", len(message_ids))
    return len(message_ids)


@shared_task(ignore_result=True)
@with_lock("receipts_sweep", timeout=300)
def receipts_sweep() -> int:
    """Apply receipts that came before their message's parts were recorded (by another process)."""
    return delivery.unmatched_receipts_sweep()


@shared_task(ignore_result=True)
@with_lock("idempotency_keys_expire", timeout=3600)
def idempotency_keys_expire() -> int:
    """Forget Idempotency-Keys older than their 24 hours."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(ignore_result=True)
@with_lock("inbound_parts_expire", timeout=3600)
def inbound_parts_expire() -> int:
    """Forget parts of long inbound messages whose other parts never came."""
    cutoff = timezone.now() - timedelta(seconds=settings.SMS_INBOUND_PART_TTL)
    deleted, _ = InboundPart.objects.filter(received_at__lt=cutoff).delete()
    if deleted:
        logger.warning("Forgot %d part(s) of inbound messages whose other parts never came", deleted)
    return deleted
