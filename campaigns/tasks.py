"""Thin task shells over campaigns.services: they take ids and are safe to run twice."""

import time

from celery import shared_task

from messaging.tasks import RELIABLE, with_lock

from . import services

# How long one task prepares a campaign before it hands the rest to the next one, well within the time limit.
PREPARE_SECONDS = 10.0


@shared_task(**RELIABLE)
def campaign_batch_send(campaign_id: str) -> None:
    """One batch, then the next in a new task: a worker that dies loses at most its batch's lease."""
    delay = services.campaign_batch(campaign_id=campaign_id)
    if delay is not None:
        campaign_batch_send.apply_async(args=[campaign_id], countdown=delay or None)


@shared_task(**RELIABLE)
def campaign_prepare_next(campaign_id: str) -> None:
    """The campaign's preparation, a chunk (a transaction) at a time, for PREPARE_SECONDS, then the rest in a new
    task: a worker that dies loses at most the chunk it was writing, and beat's campaigns_sweep restarts the chain.
    A task per chunk waited behind the batches' tasks each time: preparation went at a third of the speed."""
    deadline = time.monotonic() + PREPARE_SECONDS
    while services.campaign_prepare(campaign_id=campaign_id):
        if time.monotonic() > deadline:
            campaign_prepare_next.delay(campaign_id)
            return


@shared_task(ignore_result=True)
@with_lock("campaigns_sweep", timeout=300)
def campaigns_sweep() -> None:
    """Start scheduled campaigns that are due; restart the preparations and batches that were lost."""
    services.campaigns_start_due()
    services.campaigns_recover()
