"""Thin task shells over reports.services."""

from celery import shared_task

from messaging.tasks import with_lock

from . import services


@shared_task(ignore_result=True)
@with_lock("usage_compact", timeout=300)
def usage_compact() -> int:
    """Fold the usage changes into the daily rollup, so that a report reads few rows (it is exact without)."""
    return services.usage_compact()
