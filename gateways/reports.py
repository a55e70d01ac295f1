"""Delivery reports travel as a Celery task named here, so gateways need not import messaging."""

from smsplatform.celery import app

DELIVERY_REPORT_TASK = "messaging.tasks.delivery_reports_apply"


def delivery_report_later(*, gateway: str, gateway_message_ids: list[str], status: str, delay: float = 0) -> None:
    """Queue delivery reports for messages this gateway accepted, to be applied by a worker."""
    app.send_task(DELIVERY_REPORT_TASK, args=[gateway, gateway_message_ids, status], countdown=delay or None)
