"""Thin task shells over campaigns.services: they take ids and are safe to run twice."""

from celery import shared_task

from messaging.tasks import RELIABLE, with_lock

from . import services


@shared_task(**RELIABLE)
def campaign_batch_send(campaign_id: str) -> None:
    """One batch, then the next in a new task: a worker that dies loses at most its batch's lease."""
    delay = services.campaign_batch(campaign_id=campaign_id)
    if delay is not None:
        campaign_batch_send.apply_async(args=[campaign_id], countdown=delay or None)


@shared_task(ignore_result=True)
@with_lock("campaigns_sweep", timeout=300)
def campaigns_sweep() -> None:
    """Start scheduled campaigns that are due; restart sending ones whose batches were lost."""
    services.campaigns_start_due()
    services.campaigns_recover()
