"""GET /api/v1/webhooks/deliveries/ (the attempt log) and POST …/{delivery_id}/resend/."""

from webhooks.models import WebhookDelivery

from .conftest import deliver, send


def test_the_log_lists_each_delivery_with_its_attempts_newest_first(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    webhook.answers = [503, 200]
    first = send(api_client).json()["message_id"]
    deliver(webhook.origin)
    second = send(api_client).json()["message_id"]

    response = api_client.get("/api/v1/webhooks/deliveries/")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    newest, oldest = body["deliveries"]
    assert newest["message_id"] == second
    assert (newest["status"], newest["attempts"], newest["attempt_log"]) == ("pending", 0, [])
    assert newest["next_retry_at"] is not None
    assert oldest | {"id": "…", "created_at": "…"} == {
        "id": "…",
        "type": "message.status",
        "url": webhook.url,
        "message_id": first,
        "status": "succeeded",
        "attempts": 2,
        "next_retry_at": None,
        "created_at": "…",
        "attempt_log": [
            {"attempted_at": oldest["attempt_log"][0]["attempted_at"], "status_code": 503,
             "duration_ms": oldest["attempt_log"][0]["duration_ms"], "error": "HTTP 503"},
            {"attempted_at": oldest["attempt_log"][1]["attempted_at"], "status_code": 200,
             "duration_ms": oldest["attempt_log"][1]["duration_ms"], "error": ""},
        ],
    }  # fmt: skip


def test_the_log_filters_by_message_and_status(api_client, sender, webhook):
    message_id = send(api_client).json()["message_id"]
    send(api_client)
    deliver(webhook.origin)
    send(api_client)

    by_message = api_client.get(f"/api/v1/webhooks/deliveries/?message_id={message_id}").json()
    pending = api_client.get("/api/v1/webhooks/deliveries/?status=pending").json()

    assert [delivery["message_id"] for delivery in by_message["deliveries"]] == [message_id]
    assert pending["count"] == 1
    assert api_client.get("/api/v1/webhooks/deliveries/?status=&message_id=").json()["count"] == 3


def test_bad_filters_are_a_400_naming_them(api_client):
    response = api_client.get("/api/v1/webhooks/deliveries/?message_id=42&status=lost&page_size=x")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"message_id", "status"}


def test_the_log_is_paginated(api_client, sender, webhook):
    for _ in range(3):
        send(api_client)

    page = api_client.get("/api/v1/webhooks/deliveries/?page_size=2").json()

    assert (page["count"], len(page["deliveries"])) == (3, 2)
    assert page["next"].endswith("page=2&page_size=2")


def test_a_failed_delivery_can_be_resent_with_its_id(api_client, sender, webhook, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    webhook.answers = [500, 500, 200]
    send(api_client)
    deliver(webhook.origin)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"

    response = api_client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/resend/")

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 2)
    deliver(webhook.origin)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("succeeded", 3)
    assert len({request.headers["webhook-id"] for request in webhook.received}) == 1


def test_a_pending_delivery_is_not_resent(api_client, sender, webhook):
    send(api_client)
    delivery = WebhookDelivery.objects.get()

    response = api_client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/resend")

    assert response.status_code == 409
    assert response.json() == {
        "error": "The delivery is still pending: it will be attempted without a resend.",
        "code": "delivery_pending",
    }


def test_another_account_neither_sees_nor_resends_a_delivery(api_client, other_client, sender, webhook):
    send(api_client)
    deliver(webhook.origin)
    delivery = WebhookDelivery.objects.get()

    assert other_client.get("/api/v1/webhooks/deliveries/").json()["count"] == 0
    assert other_client.get(f"/api/v1/webhooks/deliveries/?message_id={delivery.message_id}").json()["count"] == 0
    response = other_client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/resend/")
    assert response.status_code == 404
    assert response.json() == {"error": "Delivery not found.", "code": "not_found"}
    assert api_client.post("/api/v1/webhooks/deliveries/not-a-uuid/resend/").status_code == 404
