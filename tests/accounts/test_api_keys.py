import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.keys import key_hash
from accounts.models import ApiKey
from tests.factories import api_key_for

KEYS_URL = "/api/v1/auth/keys/"


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


def test_create_key_returns_the_secret_once_and_stores_only_its_hash(api_client, account):
    response = api_client.post(KEYS_URL, {"name": "Production"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "created_at", "last_used_at", "key"}
    assert body["name"] == "Production"
    assert body["key"].startswith(body["prefix"])
    assert body["last_used_at"] is None
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.account == account
    assert stored.key_hash == key_hash(body["key"])
    assert body["key"] not in {value for value in vars(stored).values() if isinstance(value, str)}


def test_created_key_authenticates(api_client):
    secret = api_client.post(KEYS_URL, {}, format="json").json()["key"]

    assert client_with(secret).get("/api/v1/billing/balance/").status_code == 200


def test_name_is_optional(api_client):
    response = api_client.post(KEYS_URL, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == ""


@pytest.mark.parametrize("name", [42, None, ["a"], {"a": 1}, "x" * 101])
def test_bad_name_is_a_400_and_creates_nothing(api_client, account, name):
    before = ApiKey.objects.count()

    response = api_client.post(KEYS_URL, {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "name" in response.json()["fields"]
    assert ApiKey.objects.count() == before


def test_list_shows_active_keys_without_secrets(api_client, account, other_account):
    api_key_for(account, name="Second")
    revoked = ApiKey.objects.create(account=account, name="Old", prefix="smsk_old", key_hash="0" * 64)
    revoked.revoked_at = timezone.now()
    revoked.save()
    api_key_for(other_account, name="Not mine")

    response = api_client.get(KEYS_URL)

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert sorted(key["name"] for key in keys) == ["Second", "Test"]
    for key in keys:
        assert set(key) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert keys[0]["name"] == "Second"  # newest first


def test_revoked_key_is_rejected_on_next_request(api_client, account):
    secret = api_key_for(account, name="Doomed")
    doomed = client_with(secret)
    assert doomed.get("/api/v1/billing/balance/").status_code == 200  # now cached
    key_id = ApiKey.objects.get(key_hash=key_hash(secret)).id

    response = api_client.delete(f"{KEYS_URL}{key_id}/")

    assert response.status_code == 204
    assert response.content == b""
    rejected = doomed.get("/api/v1/billing/balance/")
    assert rejected.status_code == 401
    assert rejected.json() == {"error": "Invalid or revoked API key.", "code": "invalid_api_key"}
    assert key_id not in [key["id"] for key in api_client.get(KEYS_URL).json()["keys"]]


def test_key_can_revoke_itself(api_client, api_key):
    key_id = ApiKey.objects.get(key_hash=key_hash(api_key)).id

    assert api_client.delete(f"{KEYS_URL}{key_id}").status_code == 204
    assert api_client.get(KEYS_URL).status_code == 401


def test_revoking_another_accounts_key_is_a_404_and_leaves_it_working(api_client, other_account):
    secret = api_key_for(other_account)
    key_id = ApiKey.objects.get(key_hash=key_hash(secret)).id

    response = api_client.delete(f"{KEYS_URL}{key_id}/")

    assert response.status_code == 404
    assert response.json() == {"error": "API key not found.", "code": "not_found"}
    assert ApiKey.objects.get(pk=key_id).revoked_at is None
    assert client_with(secret).get(KEYS_URL).status_code == 200


def test_revoking_an_unknown_or_revoked_key_is_a_404(api_client, account):
    assert api_client.delete(f"{KEYS_URL}00000000-0000-0000-0000-000000000000/").status_code == 404
    key_id = ApiKey.objects.get(key_hash=key_hash(api_key_for(account))).id
    assert api_client.delete(f"{KEYS_URL}{key_id}/").status_code == 204
    assert api_client.delete(f"{KEYS_URL}{key_id}/").status_code == 404


def test_malformed_key_id_is_a_json_404(api_client):
    response = api_client.delete(f"{KEYS_URL}not-a-uuid/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_last_used_at_is_written_once_per_interval_not_per_request(api_client, api_key, django_assert_num_queries):
    api_client.get("/api/v1/billing/balance/")
    first_use = ApiKey.objects.get(key_hash=key_hash(api_key)).last_used_at
    assert first_use is not None

    # Cached lookup, no last_used_at write: only the balance query itself.
    with django_assert_num_queries(1):
        api_client.get("/api/v1/billing/balance/")
    assert ApiKey.objects.get(key_hash=key_hash(api_key)).last_used_at == first_use
