from django.db.models import QuerySet

from smsplatform.errors import NotFound

from .models import WebhookDelivery


def delivery_list(*, account_id, message_id=None, state: str | None = None) -> QuerySet[WebhookDelivery]:
    """The account's deliveries, newest first, with their attempts; `message_id` (an outbound or inbound
    message's) and `state` narrow them."""
    deliveries = WebhookDelivery.objects.filter(account_id=account_id)
    if message_id is not None:
        deliveries = deliveries.filter(message_id=message_id) | deliveries.filter(inbound_id=message_id)
    if state is not None:
        deliveries = deliveries.filter(state=state)
    return deliveries.prefetch_related("attempt_log").order_by("-created_at", "-id")


def delivery_get(*, account_id, delivery_id) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(account_id=account_id, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("Delivery not found.")
    return delivery
