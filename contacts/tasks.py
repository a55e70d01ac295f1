"""Thin task shells over contacts.services."""

from celery import shared_task

from messaging.tasks import with_lock

from . import services


@shared_task(ignore_result=True)
@with_lock("contact_counts_compact", timeout=300)
def contact_counts_compact() -> int:
    """Fold each account's contact count changes into one row, so that the list's count reads few (it is exact
    without)."""
    return services.contact_counts_compact()
