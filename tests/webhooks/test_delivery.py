"""Real deliveries to a loopback receiver: what is sent, signed as Standard Webhooks says, retried, given up."""

import time

import pytest
from standardwebhooks.webhooks import Webhook

from gateways.base import Receipt, ReceiptStatus
from messaging.delivery import receipts_apply
from messaging.models import MessagePart
from webhooks.addresses import UnsafeUrl, url_resolve
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_rotate, endpoint_update

from .conftest import deliver, send


def secret_of(account) -> str:
    return WebhookEndpoint.objects.get(account=account).secret


def receipt(message_id: str, status=ReceiptStatus.DELIVERED, **fields):
    part = MessagePart.objects.get(message_id=message_id)
    receipts_apply([Receipt(gateway=part.gateway, part_id=part.gateway_message_id, status=status, **fields)])


def test_sent_and_delivered_events_reach_the_webhook_signed(api_client, account, sender, webhook):
    message_id = send(api_client).json()["message_id"]
    receipt(message_id)

    deliver(webhook.origin)

    # Both are POSTed at once (20 in flight), so they may arrive in either order (docs/webhooks.md).
    by_status = {request.event["data"]["status"]: request for request in webhook.received}
    assert sorted(by_status) == ["delivered", "sent"]
    first = by_status["sent"]
    assert first.event == {
        "type": "message.status",
        "timestamp": first.event["timestamp"],
        "data": {
            "message_id": message_id,
            "status": "sent",
            "recipient": "+263771234567",
            "sender": "MyBrand",
            "error": "",
            "error_code": "",
            "campaign_id": None,
            "segments": 1,
            "credits": 1,
        },
    }
    for request in webhook.received:
        # Three lines on the receiver's side, as the README shows them.
        assert Webhook(secret_of(account)).verify(request.body, request.headers) == request.event
        assert request.headers["content-type"] == "application/json"
        assert request.path == "/hooks"
    ids = [by_status[status].headers["webhook-id"] for status in ("sent", "delivered")]
    assert ids == [f"msg_{delivery.id.hex}" for delivery in WebhookDelivery.objects.order_by("created_at")]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}


def test_a_forged_or_stale_delivery_fails_verification(api_client, account, sender, webhook):
    send(api_client)
    deliver(webhook.origin)
    [request] = webhook.received

    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(secret_of(account)).verify(request.body.replace(b"MyBrand", b"Forged!"), request.headers)


def test_undelivered_and_failed_events_carry_the_error(api_client, account, sender, webhook, gateway_mode):
    message_id = send(api_client).json()["message_id"]
    receipt(message_id, ReceiptStatus.UNDELIVERED, error="Absent subscriber.", error_code="dlr:UNDELIV:001")
    gateway_mode("reject")
    rejected_id = send(api_client).json()["message_id"]

    deliver(webhook.origin)

    by_status = {event["data"]["status"]: event["data"] for event in webhook.events()}
    assert set(by_status) == {"sent", "undelivered", "failed"}
    assert (by_status["undelivered"]["error"], by_status["undelivered"]["error_code"]) == (
        "Absent subscriber.",
        "dlr:UNDELIV:001",
    )
    assert by_status["undelivered"]["message_id"] == message_id
    assert by_status["failed"]["message_id"] == rejected_id
    assert by_status["failed"]["error_code"] == "fake:rejected"


def test_a_repeated_receipt_makes_no_second_event(api_client, sender, webhook):
    message_id = send(api_client).json()["message_id"]
    receipt(message_id)
    receipt(message_id)

    assert WebhookDelivery.objects.filter(message_status="delivered").count() == 1


def test_a_message_callback_url_takes_its_events_instead_of_the_account_webhook(api_client, sender, webhook, receiver):
    own = receiver()
    send(api_client, callback_url=own.url)
    send(api_client)

    deliver(own.origin)
    deliver(webhook.origin)

    assert len(own.received) == 1
    assert len(webhook.received) == 1
    assert WebhookDelivery.objects.get(url=own.url).endpoint_id is None


def test_a_callback_url_is_signed_with_the_account_secret_made_on_its_first_delivery(
    api_client, account, sender, receiver
):
    own = receiver()
    send(api_client, callback_url=own.url)

    deliver(own.origin)

    [request] = own.received
    Webhook(secret_of(account)).verify(request.body, request.headers)


def test_during_a_rotation_both_secrets_sign(api_client, account, sender, webhook):
    old = secret_of(account)
    endpoint_rotate(account_id=account.pk)
    send(api_client)

    deliver(webhook.origin)

    [request] = webhook.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(secret_of(account)).verify(request.body, request.headers)


def test_after_24_hours_the_previous_secret_signs_no_more(api_client, account, sender, webhook, settings):
    settings.WEBHOOK_SECRET_OVERLAP = 0
    old = secret_of(account)
    endpoint_rotate(account_id=account.pk)
    send(api_client)

    deliver(webhook.origin)

    [request] = webhook.received
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(old).verify(request.body, request.headers)


def test_a_500_is_retried_with_the_same_id_and_body_until_it_succeeds(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0, 0]
    webhook.answers = [500, 503, 200]
    send(api_client)

    deliver(webhook.origin)

    assert len(webhook.received) == 3
    assert len({request.headers["webhook-id"] for request in webhook.received}) == 1
    assert len({request.body for request in webhook.received}) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("succeeded", 3)
    assert [(a.status_code, a.error) for a in delivery.attempt_log.all()] == [
        (500, "HTTP 500"),
        (503, "HTTP 503"),
        (200, ""),
    ]


def test_a_failed_attempt_waits_its_turn_on_the_schedule_with_jitter(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [300, 1800]
    webhook.answers = [500]
    send(api_client)

    deliver(webhook.origin)

    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.state == "pending"
    assert 240 <= (delivery.next_attempt_at - attempt.attempted_at).total_seconds() <= 360  # 300 s ± 20 %


def test_a_delivery_out_of_retries_fails(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    webhook.answers = [500]
    send(api_client)

    deliver(webhook.origin)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)


def test_410_gone_disables_the_account_webhook(api_client, account, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    webhook.answers = [410]
    send(api_client)
    send(api_client)

    deliver(webhook.origin)

    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason == f"{webhook.url} answered 410 Gone."
    assert api_client.get("/api/v1/webhooks/").json()["disabled_reason"] == endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"failed"}
    assert len(webhook.received) <= 2  # no retry
    send(api_client)
    assert WebhookDelivery.objects.count() == 2  # no event for a disabled webhook


def test_a_receiver_too_slow_is_retried(api_client, sender, webhook, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    webhook.delays = [2.0]
    send(api_client)

    deliver(webhook.origin)

    delivery = WebhookDelivery.objects.get()
    first, second = delivery.attempt_log.all()
    assert (first.status_code, first.error) == (None, "No answer within 0.3 s.")
    assert first.duration_ms < 1500
    assert (second.status_code, delivery.state) == (200, "succeeded")


def test_a_receiver_that_is_down_is_retried(api_client, account, sender, settings, receiver):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    gone = receiver()
    gone.__exit__(None, None, None)  # nothing listens on its port any more
    endpoint_update(account_id=account.pk, url=gone.url, events=["message.status"])
    send(api_client)

    deliver(gone.origin)

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending"
    assert delivery.attempt_log.get().error.startswith("ConnectError")


def test_redirects_are_not_followed(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    webhook.answers = [307]
    send(api_client)

    deliver(webhook.origin)

    assert len(webhook.received) == 1
    assert WebhookDelivery.objects.get().attempt_log.get().error == "HTTP 307 (redirects are not followed)"


def test_no_more_than_max_in_flight_at_once_per_host(api_client, account, sender, webhook, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT = 4
    webhook.delay = 0.2
    for _ in range(20):
        send(api_client)

    deliver(webhook.origin)

    assert len(webhook.received) == 20
    assert webhook.most_in_flight == 4


def test_each_host_has_its_own_dispatcher_so_a_slow_one_holds_up_no_other(api_client, sender, webhook, receiver):
    webhook.delay = 5.0  # would hold the fast one's events up if they shared a run or its slots
    fast = receiver()
    for _ in range(3):
        send(api_client)
    send(api_client, callback_url=fast.url)
    started = time.monotonic()

    deliver(fast.origin)

    assert time.monotonic() - started < 2
    assert len(fast.received) == 1
    assert webhook.received == []
    assert WebhookDelivery.objects.filter(origin=webhook.origin, state="pending").count() == 3


def test_an_address_checked_again_at_delivery_refuses_a_private_one(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    send(api_client)  # accepted while private addresses were allowed; its name may as well have been rebound
    settings.WEBHOOK_ALLOW_PRIVATE = False

    deliver(webhook.origin)

    assert webhook.received == []
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert (attempt.status_code, attempt.error) == (None, "Use an https:// URL.")


def test_a_name_resolving_to_loopback_is_refused_at_delivery(account, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    with pytest.raises(UnsafeUrl, match=r"resolves to 127\.0\.0\.1"):
        url_resolve("https://localhost:8443/hooks")
