"""What an attacker sends: a Host header that is not ours, JSON nested 10,000 deep. A JSON 400, never a 500."""

import pytest
from django.test import Client

from billing.models import Transaction
from messaging.models import Message
from tests.factories import ContactFactory, GroupFactory

from .test_errors import assert_error

FOREIGN_HOST = {"HTTP_HOST": "evil.example"}
INVALID_HOST = {"error": "The Host header names a host this server does not serve.", "code": "invalid_host"}


def test_a_foreign_host_sends_nothing_and_charges_nothing(api_client, account, sender, outbox):
    body = {"to": "0771234567", "sender": "MyBrand", "message": "Hello"}

    response = api_client.post("/api/v1/sms/send/", body, format="json", **FOREIGN_HOST)

    assert_error(response, 400, "invalid_host")
    assert response.json() == INVALID_HOST
    assert not Message.objects.exists()
    assert not Transaction.objects.filter(type="debit").exists()
    assert not outbox


def test_a_foreign_host_on_a_paginated_list_is_a_400_not_a_500(api_client, account):
    ContactFactory.create_batch(2, account=account)  # a next link to build from the host

    assert_error(api_client.get("/api/v1/contacts/", {"page_size": 1}, **FOREIGN_HOST), 400, "invalid_host")


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path", ["/api/v1/health/", "/api/v1/docs/", "/admin/login/", "/static/admin/css/base.css", "/nope", "/"]
)
def test_every_path_refuses_a_foreign_or_malformed_host(db, settings, debug, path):
    settings.DEBUG = debug

    for host in ("evil.example", "127.0.0.1.evil.example", "bad host!", "localhost:80:80"):
        assert_error(Client().get(path, HTTP_HOST=host), 400, "invalid_host")


def test_the_hosts_of_allowed_hosts_are_served_with_or_without_a_port(api_client, settings):
    settings.ALLOWED_HOSTS = ["sms.example.co.zw", ".example.org"]

    for host in ("sms.example.co.zw", "sms.example.co.zw:8443", "api.example.org"):
        assert api_client.get("/api/v1/billing/balance/", HTTP_HOST=host).status_code == 200
    assert_error(api_client.get("/api/v1/billing/balance/", HTTP_HOST="localhost"), 400, "invalid_host")


def test_a_refused_host_is_logged_in_one_line(api_client, caplog):
    api_client.get("/api/v1/billing/balance/", **FOREIGN_HOST)

    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert "evil.example" in record.getMessage()
    assert record.exc_info is None


# --- JSON nested too deeply ---------------------------------------------------------------------------------------

# 20 KB: under every body limit, and deeper than Python's JSON decoder goes (a RecursionError, not a ValueError).
DEEP_JSON = "[" * 10_000 + "]" * 10_000

JSON_ENDPOINTS = [
    ("post", "/api/v1/auth/keys/"),
    ("post", "/api/v1/sms/send/"),
    ("post", "/api/v1/sms/quote/"),
    ("post", "/api/v1/sms/senders/"),
    ("post", "/api/v1/contacts/"),
    ("put", "/api/v1/contacts/{contact}/"),
    ("patch", "/api/v1/contacts/{contact}/"),
    ("post", "/api/v1/contacts/import/"),
    ("post", "/api/v1/contacts/groups/"),
    ("patch", "/api/v1/contacts/groups/{group}/"),
    ("post", "/api/v1/contacts/groups/{group}/contacts/"),
    ("delete", "/api/v1/contacts/groups/{group}/contacts/"),
    ("post", "/api/v1/campaigns/"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP_JSON, '{"name": ' + DEEP_JSON + "}"])
def test_json_nested_too_deeply_is_a_400_parse_error(api_client, account, method, path, body):
    url = path.format(contact=ContactFactory(account=account).pk, group=GroupFactory(account=account).pk)

    response = getattr(api_client, method)(url, body, content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert response.json() == {"error": "JSON parse error - nested too deeply.", "code": "parse_error"}
