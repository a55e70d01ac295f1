"""GET/PUT /api/v1/webhooks/, the secret and its rotation, and the URL checks (server-side request forgery)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from messaging.models import Message
from tests.factories import GroupFactory
from webhooks.models import WebhookEndpoint

from .conftest import send

SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")
PUBLIC_URL = "https://93.184.215.14/hooks"  # an address literal: checked without DNS


def test_the_secret_is_made_on_first_get_and_kept(api_client):
    first = api_client.get("/api/v1/webhooks/")

    assert first.status_code == 200
    assert first.json() | {"secret": "…"} == {
        "url": None,
        "secret": "…",
        "events": ["message.status", "message.received"],
        "disabled_at": None,
        "disabled_reason": "",
        "previous_secret_expires_at": None,
    }
    assert SECRET.fullmatch(first.json()["secret"])
    assert api_client.get("/api/v1/webhooks").json()["secret"] == first.json()["secret"]


def test_put_sets_the_url_and_events_and_an_empty_url_stops_them(api_client, account):
    response = api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["message.status"]}, format="json")

    assert response.status_code == 200
    assert response.json()["url"] == PUBLIC_URL
    assert response.json()["events"] == ["message.status"]
    assert SECRET.fullmatch(response.json()["secret"])
    for off in ("", None):
        assert api_client.put("/api/v1/webhooks/", {"url": off}, format="json").json()["url"] is None
    assert WebhookEndpoint.objects.get(account=account).url == ""


def test_a_put_enables_a_webhook_that_410_disabled(api_client, account):
    api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL}, format="json")
    WebhookEndpoint.objects.filter(account=account).update(disabled_at=timezone.now(), disabled_reason="Gone.")

    assert api_client.get("/api/v1/webhooks/").json()["disabled_reason"] == "Gone."
    response = api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL}, format="json")
    assert (response.json()["disabled_at"], response.json()["disabled_reason"]) == (None, "")


def test_rotation_makes_a_new_secret_and_keeps_the_old_one_signing_for_24_hours(api_client, account):
    old = api_client.get("/api/v1/webhooks/").json()["secret"]

    response = api_client.post("/api/v1/webhooks/rotate/")

    assert response.status_code == 200
    assert response.json()["secret"] != old
    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at - timezone.now() == pytest.approx(
        timedelta(hours=24), abs=timedelta(seconds=5)
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": 42}, "url", "Must be a string."),
        ({}, "url", "This field is required."),
        ({"url": PUBLIC_URL, "events": "message.status"}, "events", 'Expected a list of items but got type "str".'),
        ({"url": PUBLIC_URL, "events": ["message.sent"]}, "events.0", '"message.sent" is not a valid choice.'),
        ({"url": "not a url"}, "url", "Use an https:// URL."),
        ({"url": "https://user:pw@example.com/"}, "url", None),
        ({"url": "https://example.com:99999/"}, "url", "Enter a valid URL."),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, body, field, message):
    response = api_client.put("/api/v1/webhooks/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    if message:
        assert message in str(response.json()["fields"][field])


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # not https
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://172.16.0.1/hooks",
        "https://192.168.1.1/hooks",
        "https://100.64.0.1/hooks",  # carrier-grade NAT
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://0.0.0.0/",
        "https://224.0.0.1/",  # multicast
        "https://240.0.0.1/",  # reserved
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00:ec2::254]/",  # AWS's IPv6 metadata
        "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped
        "https://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254
        "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://localhost/hooks",  # a name that resolves to loopback
        "https://localhost.:8443/hooks",
    ],
)
def test_urls_to_private_addresses_are_refused(api_client, account, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL}, format="json")

    response = api_client.put("/api/v1/webhooks/", {"url": url}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["url"]
    assert WebhookEndpoint.objects.get(account=account).url == PUBLIC_URL  # nothing written


def test_a_public_address_is_accepted_without_allow_private(api_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    assert api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL}, format="json").status_code == 200
    assert api_client.put("/api/v1/webhooks/", {"url": "https://[2606:4700::1111]/h"}, format="json").status_code == 200


def test_allow_private_lets_http_and_loopback_through(api_client):
    response = api_client.put("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hooks"}, format="json")

    assert response.status_code == 200


def test_a_send_with_an_unsafe_callback_url_is_a_400_and_sends_nothing(api_client, account, sender, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = send(api_client, callback_url="https://169.254.169.254/")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["callback_url"]
    assert Message.objects.count() == 0
    account.refresh_from_db()
    assert account.sms_credits == 100
    assert send(api_client, callback_url=42).json()["fields"] == {"callback_url": ["Must be a string."]}


def test_a_campaign_with_an_unsafe_callback_url_is_a_400(api_client, account, sender, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    body = {
        "name": "Promo",
        "message": "Hi",
        "sender_name": "MyBrand",
        "group_id": str(GroupFactory(account=account).pk),
    }

    response = api_client.post("/api/v1/campaigns/", body | {"callback_url": "https://[::1]/"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["callback_url"]
    assert not Campaign.objects.exists()
    assert api_client.post("/api/v1/campaigns/", body | {"callback_url": PUBLIC_URL}, format="json").status_code == 201


def test_every_webhook_endpoint_needs_a_key(anonymous_client):
    for method, path in [
        ("get", "/api/v1/webhooks/"),
        ("put", "/api/v1/webhooks/"),
        ("post", "/api/v1/webhooks/rotate/"),
        ("get", "/api/v1/webhooks/deliveries/"),
        ("post", "/api/v1/webhooks/deliveries/3f2b8c1e-6d4a-4e9b-a7c5-1b2d3e4f5a6b/resend/"),
    ]:
        response = getattr(anonymous_client, method)(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_each_account_sees_only_its_own_webhook(api_client, other_client):
    mine = api_client.put("/api/v1/webhooks/", {"url": PUBLIC_URL}, format="json").json()

    theirs = other_client.get("/api/v1/webhooks/").json()

    assert theirs["url"] is None
    assert theirs["secret"] != mine["secret"]
