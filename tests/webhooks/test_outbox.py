"""The outbox: event rows written with the change they report, in O(1) statements, and one dispatcher task per
receiving host however many events there are."""

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from standardwebhooks.webhooks import Webhook

from campaigns.services import campaign_batch
from gateways.backends.twilio import twilio_signature
from messaging.models import InboundMessage, InboundNumber, Message
from smsplatform.cache import redis_outage
from tests.factories import ContactFactory, GroupFactory
from tests.redis_server import free_port
from webhooks.dispatch import webhooks_deliver
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.outbox import dispatch_flag, webhook_inbound_events_create
from webhooks.services import endpoint_update
from webhooks.tasks import webhooks_sweep

from .conftest import deliver, send

DISPATCH_TASK = "webhooks.tasks.webhooks_dispatch"
TWILIO_SID, TWILIO_TOKEN = "AC" + "0" * 32, "twilio-auth-token"
TWILIO_INBOUND_URL = "https://sms.example.com/api/v1/gateways/twilio/inbound/"
TWILIO = {
    "BACKEND": "gateways.backends.twilio.TwilioGateway",
    "OPTIONS": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "inbound_url": TWILIO_INBOUND_URL},
}


def test_a_campaign_makes_an_event_per_message_and_one_dispatcher_task(
    api_client, account, sender, webhook, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_BATCH_SIZE = 10
    group = GroupFactory(account=account)
    for _ in range(45):
        ContactFactory(account=account, groups=[group])
    body = {"name": "Promo", "message": "Hi {name}", "sender_name": "MyBrand", "group_id": str(group.pk)}
    campaign_id = api_client.post("/api/v1/campaigns/", body, format="json").json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(f"/api/v1/campaigns/{campaign_id}/send/").status_code == 202
        while campaign_batch(campaign_id=campaign_id) is not None:
            pass

    assert WebhookDelivery.objects.filter(message__campaign_id=campaign_id).count() == 45
    assert [task.args for task in enqueued if task.name == DISPATCH_TASK] == [[webhook.origin]]
    deliver(webhook.origin)
    assert {event["data"]["campaign_id"] for event in webhook.events()} == {campaign_id}
    assert len(webhook.received) == 45


def test_a_campaign_callback_url_takes_its_messages_events(api_client, account, sender, webhook, receiver):
    own = receiver()
    group = GroupFactory(account=account)
    ContactFactory(account=account, groups=[group])
    body = {
        "name": "Promo",
        "message": "Hi",
        "sender_name": "MyBrand",
        "group_id": str(group.pk),
        "callback_url": own.url,
    }
    campaign_id = api_client.post("/api/v1/campaigns/", body, format="json").json()["id"]
    api_client.post(f"/api/v1/campaigns/{campaign_id}/send/")
    campaign_batch(campaign_id=campaign_id)

    deliver(own.origin)

    assert [event["data"]["campaign_id"] for event in own.events()] == [campaign_id]
    assert not WebhookDelivery.objects.filter(url=webhook.url).exists()


def test_a_send_costs_no_statement_more_for_its_events_on_postgresql_and_one_elsewhere(api_client, account, sender):
    send(api_client)  # warm the caches: the key's lookup, the sender's approval

    def statements_of_a_send() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert send(api_client).status_code == 201
        return [query["sql"] for query in queries.captured_queries]

    without = statements_of_a_send()
    endpoint_update(account_id=account.pk, url="http://127.0.0.1:9/hooks", events=["message.status"])
    with_webhook = statements_of_a_send()

    assert len(with_webhook) == len(without)
    [writes_events] = [sql for sql in with_webhook if "webhooks_webhookdelivery" in sql]
    if connection.vendor == "postgresql":
        assert writes_events.startswith("WITH part")  # the statement that marks the message sent
    else:
        assert writes_events.startswith("INSERT INTO")
    assert WebhookDelivery.objects.count() == 1


def test_the_single_send_path_in_queries(api_client, sender, webhook, django_assert_num_queries):
    send(api_client)

    # The key and the sender come from caches; PostgreSQL: the debit (checking the opt-out) with its ledger row and
    # the message in one statement, the outcome with its part, early receipts and the event in another.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 7):
        assert send(api_client).status_code == 201


def test_no_event_is_written_without_a_subscriber(api_client, account, sender):
    send(api_client)
    endpoint_update(account_id=account.pk, url="http://127.0.0.1:9/hooks", events=["message.received"])
    send(api_client)

    assert not WebhookDelivery.objects.exists()


def test_inbound_messages_make_received_events_for_subscribed_accounts(account, other_account, webhook, receiver):
    endpoint_update(account_id=other_account.pk, url=receiver().url, events=["message.status"])
    ours = InboundMessage.objects.create(
        account=account, gateway="default", sender="+263771234567", recipient="33333", text="STOP please",
        keyword="STOP", parts=2,
    )  # fmt: skip
    theirs = InboundMessage.objects.create(account=other_account, gateway="default", sender="+1", recipient="33333")
    unmatched = InboundMessage.objects.create(account=None, gateway="default", sender="+1", recipient="44444")

    webhook_inbound_events_create(inbound_ids=[ours.pk, theirs.pk, unmatched.pk])
    deliver(webhook.origin)

    [event] = webhook.events()
    assert event["type"] == "message.received"
    assert event["data"] == {
        "message_id": str(ours.pk),
        "from": "+263771234567",
        "to": "33333",
        "text": "STOP please",
        "keyword": "STOP",
        "parts": 2,
        "received_at": event["data"]["received_at"],
    }
    assert WebhookDelivery.objects.count() == 1


@pytest.fixture
def outage_forgotten():
    yield
    redis_outage.forget()


def test_a_broker_that_does_not_answer_fails_no_send_and_loses_no_event(
    api_client, sender, webhook, real_broker, outage_forgotten, django_capture_on_commit_callbacks
):
    real_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api_client)

    assert response.status_code == 201
    assert Message.objects.get().status == "sent"
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending"  # the sweep kicks its dispatcher once the broker answers
    deliver(webhook.origin)
    assert len(webhook.received) == 1


def test_the_sweep_kicks_hosts_with_due_deliveries_and_no_dispatcher(api_client, sender, webhook, enqueued):
    send(api_client)  # in the test's transaction: its kick waits for a commit that never comes

    assert webhooks_sweep() == 1
    assert webhooks_sweep() == 1  # the first kick's flag holds: no second task

    assert [task.args for task in enqueued if task.name == DISPATCH_TASK] == [[webhook.origin]]


def test_a_second_dispatcher_of_a_host_leaves_it_to_the_one_running(api_client, sender, webhook):
    send(api_client)
    cache.add(f"{dispatch_flag(webhook.origin)}:run", 1)  # a run in another worker

    assert webhooks_deliver(origin=webhook.origin) is False
    assert webhook.received == []


def test_a_message_from_a_phone_reaches_the_webhook_as_message_received_signed(
    anonymous_client, settings, account, webhook
):
    settings.SMS_GATEWAYS = {**settings.SMS_GATEWAYS, "twilio": TWILIO}
    InboundNumber.objects.create(number="+263772000111", account=account)
    form = {"AccountSid": TWILIO_SID, "MessageSid": "SM" + "1" * 32, "From": "+263771234567",
            "To": "+263772000111", "Body": "When do you open?"}  # fmt: skip

    anonymous_client.post(
        "/api/v1/gateways/twilio/inbound/",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(TWILIO_INBOUND_URL, form, TWILIO_TOKEN),
    )
    deliver(webhook.origin)

    [received] = webhook.received
    verified = Webhook(WebhookEndpoint.objects.get(account=account).secret).verify(received.body, received.headers)
    assert verified["type"] == "message.received"
    assert verified["data"] | {"received_at": None} == {
        "message_id": str(InboundMessage.objects.get().pk),
        "from": "+263771234567",
        "to": "+263772000111",
        "text": "When do you open?",
        "keyword": "",
        "parts": 1,
        "received_at": None,
    }
