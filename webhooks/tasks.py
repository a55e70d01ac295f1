"""Thin task shells over the dispatcher: they take an origin, and are safe to run twice (the claim's lease and
SKIP LOCKED keep two runs from sending one event together)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from messaging.tasks import with_lock

from .dispatch import webhooks_deliver
from .models import WebhookDelivery
from .outbox import dispatch_kick

SWEEP_ORIGINS = 10_000


# Not acknowledged late: a run lost with its worker leaves its deliveries leased, and the sweep kicks them again.
@shared_task(ignore_result=True)
def webhooks_dispatch(origin: str) -> None:
    if webhooks_deliver(origin=origin):
        webhooks_dispatch.delay(origin)  # behind the tasks queued meanwhile: other origins get their turn


@shared_task(ignore_result=True)
@with_lock("webhooks_sweep", timeout=300)
def webhooks_sweep() -> int:
    """Kick the origins with due deliveries and no dispatcher: retries that came due, events whose kick was lost
    (Redis down, a worker killed)."""
    origins = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now())
        .order_by()
        .values_list("origin", flat=True)
        .distinct()[:SWEEP_ORIGINS]
    )
    dispatch_kick(origins=origins)
    return len(origins)


@shared_task(ignore_result=True)
@with_lock("webhooks_expire", timeout=3600)
def webhooks_expire() -> int:
    """Forget finished deliveries older than WEBHOOK_RETENTION_DAYS, with their attempts."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(state=WebhookDelivery.State.PENDING).delete()
    )
    return deleted
