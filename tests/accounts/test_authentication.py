import time

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.keys import KEY_PREFIX, key_generate, key_is_well_formed
from accounts.services import api_key_create

AUTHENTICATED_ENDPOINTS = [
    ("get", "/api/v1/auth/keys/"),
    ("post", "/api/v1/auth/keys/"),
    ("delete", "/api/v1/auth/keys/00000000-0000-0000-0000-000000000000/"),
    ("get", "/api/v1/billing/balance/"),
    ("get", "/api/v1/billing/transactions/"),
    ("post", "/api/v1/sms/send/"),
    ("post", "/api/v1/sms/quote/"),
    ("get", "/api/v1/sms/history/"),
    ("get", "/api/v1/sms/messages/00000000-0000-0000-0000-000000000000/"),
    ("get", "/api/v1/sms/senders/"),
    ("post", "/api/v1/sms/senders/"),
    ("get", "/api/v1/sms/testers/"),
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED_ENDPOINTS)
def test_every_endpoint_needs_a_key(db, method, path):
    response = getattr(APIClient(), method)(path, format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Missing X-API-KEY header.", "code": "not_authenticated"}
    assert response["WWW-Authenticate"] == 'ApiKey header="X-API-KEY"'


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED_ENDPOINTS)
@pytest.mark.parametrize("secret", ["", "nonsense", key_generate(), key_generate()[:-1] + "x"])
def test_every_endpoint_refuses_unknown_keys(db, method, path, secret):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)

    response = getattr(client, method)(path, format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or revoked API key.", "code": "invalid_api_key"}


def test_key_format_has_prefix_and_checksum():
    key = key_generate()

    assert key.startswith(KEY_PREFIX)
    assert key_is_well_formed(key)
    assert key != key_generate()


def test_a_mistyped_key_fails_its_checksum():
    key = key_generate()
    position = len(KEY_PREFIX) + 3
    typo = key[:position] + ("a" if key[position] != "a" else "b") + key[position + 1 :]

    assert not key_is_well_formed(typo)
    assert not key_is_well_formed(key + "a")
    assert not key_is_well_formed(key.replace(KEY_PREFIX, "ghp_", 1))


def test_a_mistyped_key_is_refused_without_a_database_query(db, django_assert_num_queries):
    key = key_generate()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key[:-1] + ("1" if key[-1] == "0" else "0"))

    with django_assert_num_queries(0):
        assert client.get("/api/v1/billing/balance/").status_code == 401


def test_surrounding_whitespace_in_the_header_is_tolerated(api_client, api_key):
    api_client.credentials(HTTP_X_API_KEY=f"  {api_key} ")

    assert api_client.get("/api/v1/billing/balance/").status_code == 200


def test_a_flood_of_one_unknown_key_costs_one_database_query_per_few_seconds(db, settings, django_assert_num_queries):
    settings.API_KEY_UNKNOWN_CACHE_SECONDS = 1
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key_generate())

    with django_assert_num_queries(1):
        assert client.get("/api/v1/billing/balance/").status_code == 401
    with django_assert_num_queries(0):
        assert {client.get("/api/v1/billing/balance/").status_code for _ in range(20)} == {401}
    time.sleep(1.1)
    with django_assert_num_queries(1):
        assert client.get("/api/v1/billing/balance/").status_code == 401


def test_a_key_works_at_once_though_its_secret_was_tried_and_cached_as_unknown(
    account, monkeypatch, django_assert_num_queries
):
    secret = key_generate()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    client.get("/api/v1/billing/balance/")
    with django_assert_num_queries(0):
        assert client.get("/api/v1/billing/balance/").status_code == 401
    monkeypatch.setattr(services, "key_generate", lambda: secret)

    api_key_create(account=account)

    assert client.get("/api/v1/billing/balance/").status_code == 200
