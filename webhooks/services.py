"""Webhooks: the account's endpoint (URL, events, secret and its rotation), and re-sending a delivery. The events
themselves are written by webhooks.outbox."""

from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from smsplatform.errors import Conflict

from .addresses import url_check
from .models import WebhookDelivery, WebhookEndpoint
from .outbox import kick_on_commit
from .signing import secret_generate


class DeliveryPending(Conflict):
    code = "delivery_pending"
    message = "The delivery is still pending: it will be attempted without a resend."


def endpoint_get(*, account_id) -> WebhookEndpoint:
    """The account's endpoint, made with its secret (and no URL) on first use."""
    endpoint, _ = WebhookEndpoint.objects.get_or_create(account_id=account_id, defaults={"secret": secret_generate()})
    return endpoint


def endpoint_update(*, account_id, url: str | None, events: Sequence[str]) -> WebhookEndpoint:
    """Set the account's URL ("" or None: none, no event goes to it) and the events it subscribes to. Setting a
    URL enables an endpoint a 410 Gone disabled. A URL the platform would not call is a 400 naming `url`."""
    url = url or ""
    if url:
        url_check(url=url, field="url")
    endpoint = endpoint_get(account_id=account_id)
    endpoint.url = url
    for event, field in WebhookEndpoint.EVENT_FIELDS.items():
        setattr(endpoint, field, event in events)
    endpoint.disabled_at, endpoint.disabled_reason = None, ""
    # Not the secret: a rotation may have committed since it was read.
    endpoint.save(update_fields=["url", *WebhookEndpoint.EVENT_FIELDS.values(), "disabled_at", "disabled_reason",
                                 "updated_at"])  # fmt: skip
    return endpoint


@transaction.atomic
def endpoint_rotate(*, account_id) -> WebhookEndpoint:
    """A new secret; the one it replaces signs too for WEBHOOK_SECRET_OVERLAP (24 h), so that receivers can roll
    over. A second rotation within that time drops the oldest at once: two secrets sign at most."""
    endpoint_get(account_id=account_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(account_id=account_id)
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret_generate()
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP)
    endpoint.save()
    return endpoint


def endpoint_secrets(*, account_ids: Iterable) -> dict:
    """Account id → the secrets that sign its events now, newest first (accounts with an endpoint)."""
    now = timezone.now()
    secrets = {}
    for account_id, secret, previous, expires_at in WebhookEndpoint.objects.filter(
        account_id__in=list(account_ids)
    ).values_list("account_id", "secret", "previous_secret", "previous_secret_expires_at"):
        secrets[account_id] = [secret] + ([previous] if previous and expires_at and expires_at > now else [])
    return secrets


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a finished delivery (failed or succeeded) for one more attempt now, with the same webhook-id and
    body; if it fails it is retried only on what is left of its schedule. A pending one is a 409."""
    now = timezone.now()
    if not WebhookDelivery.objects.filter(~Q(state=WebhookDelivery.State.PENDING), pk=delivery.pk).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=now
    ):
        raise DeliveryPending()
    delivery.state, delivery.next_attempt_at = WebhookDelivery.State.PENDING, now
    kick_on_commit({delivery.origin})
    return delivery
