from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import deliver, send


def test_an_owner_sees_their_deliveries_with_status_code_and_duration_and_resends_one(
    api_client, owner_client, account, other_account, sender, webhook, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook.answers = [503]
    send(api_client)
    deliver(webhook.origin)
    WebhookDelivery.objects.create(
        account=other_account, type="message.status", url="https://theirs.example/", origin="https://theirs.example",
        created_at=WebhookDelivery.objects.get().created_at, state="failed",
    )  # fmt: skip

    page = owner_client.get("/admin/webhooks/webhookdelivery/").content.decode()
    assert webhook.url in page
    assert "theirs.example" not in page
    assert "503" in page
    mine = WebhookDelivery.objects.get(account=account)
    assert owner_client.get(f"/admin/webhooks/webhookdelivery/{mine.pk}/change/").status_code == 200

    owner_client.post("/admin/webhooks/webhookdelivery/", {"action": "resend", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.state == "pending"


def test_an_owner_changes_their_webhook_url_checked_like_the_api(owner_client, account, settings):
    endpoint = WebhookEndpoint.objects.create(account=account, secret="whsec_c2VjcmV0", url="https://a.example/")
    settings.WEBHOOK_ALLOW_PRIVATE = False
    change = f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"

    refused = owner_client.post(change, {"url": "https://127.0.0.1/", "message_status": "on"})
    assert refused.status_code == 200  # the form again, with the error
    assert "an address the platform does not call" in refused.content.decode()
    owner_client.post(change, {"url": "https://93.184.215.14/hooks", "message_status": "on"})
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.secret) == (
        "https://93.184.215.14/hooks",
        ["message.status"],
        "whsec_c2VjcmV0",
    )
