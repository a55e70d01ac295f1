"""Receipts that arrive outside the bind process travel as a Celery task named here, so that gateways
need not import messaging, which applies them."""

from collections.abc import Sequence
from dataclasses import asdict

from smsplatform.celery import app

from .base import Receipt

RECEIPTS_TASK = "messaging.tasks.receipts_apply"


def receipts_apply_later(receipts: Sequence[Receipt], *, delay: float = 0) -> None:
    """Queue delivery receipts to be applied by a worker, in `delay` seconds (at most TASK_COUNTDOWN_MAX)."""
    app.send_task(RECEIPTS_TASK, args=[[asdict(receipt) for receipt in receipts]], countdown=delay or None)
