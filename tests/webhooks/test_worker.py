"""Webhooks end to end with a real Celery worker on Redis and PostgreSQL: the send's commit kicks the dispatcher,
the fake gateway's receipt makes the second event, and beat's sweep delivers what no kick announced."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from tests.factories import AccountFactory, SenderIdFactory, api_key_for
from tests.worker import celery_worker, wait_until
from webhooks.models import WebhookDelivery
from webhooks.outbox import dispatch_flag
from webhooks.services import endpoint_get, endpoint_update

from .conftest import SEND

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hooked(receiver):
    """A client of an account whose webhook is a loopback receiver."""
    account = AccountFactory(credits=100)
    SenderIdFactory(account=account, name="MyBrand")
    server = receiver()
    endpoint_update(account_id=account.pk, url=server.url, events=["message.status"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(account))
    return client, server, endpoint_get(account_id=account.pk).secret


def test_a_worker_delivers_the_sent_and_delivered_events_of_a_send(hooked, tmp_path, real_broker, gateway_mode):
    client, server, secret = hooked
    gateway_mode("accept", delivery_delay=0.2)  # the send's gateway, in this process, queues its receipt

    with celery_worker(tmp_path, gateway_options={}, WEBHOOK_ALLOW_PRIVATE="true"):
        message_id = client.post("/api/v1/sms/send/", SEND, format="json").json()["message_id"]
        wait_until(lambda: len(server.received) == 2, log=tmp_path / "worker.log")

    # Both may be in one claim, POSTed at once: their order is not promised (docs/webhooks.md).
    assert sorted(request.event["data"]["status"] for request in server.received) == ["delivered", "sent"]
    for request in server.received:
        assert Webhook(secret).verify(request.body, request.headers)["data"]["message_id"] == message_id
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}


def test_the_sweep_delivers_events_whose_kick_was_lost(hooked, tmp_path, real_broker, settings):
    client, server, _ = hooked
    settings.CELERY_BROKER_URL = "memory://"  # this process's kick goes nowhere a worker listens: lost
    client.post("/api/v1/sms/send/", SEND, format="json")
    cache.delete(dispatch_flag(server.origin))  # as it expires, FLAG_TTL after the lost kick
    real_broker(settings.REAL_CELERY_BROKER_URL)

    with celery_worker(tmp_path, beat=True, gateway_options={}, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_SWEEP_INTERVAL=1):
        wait_until(lambda: len(server.received) == 1, log=tmp_path / "worker.log")

    assert WebhookDelivery.objects.get().state == "succeeded"
