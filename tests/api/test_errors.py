"""Every error, from every layer, is JSON: {"error": "...", "code": "..."} (and "fields" for 400s)."""

import pytest
from django.test import Client

KEYS_URL = "/api/v1/auth/keys/"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    return body


def test_validation_error_names_the_fields(api_client):
    body = assert_error(api_client.post(KEYS_URL, {"name": 5}, format="json"), 400, "invalid")

    assert body == {
        "error": "Invalid name: Must be a string.",
        "code": "invalid",
        "fields": {"name": ["Must be a string."]},
    }


def test_body_that_is_not_an_object_is_a_400(api_client):
    body = assert_error(api_client.post(KEYS_URL, [1, 2], format="json"), 400, "invalid")

    assert "non_field_errors" in body["fields"]


def test_malformed_json_is_a_400(api_client):
    body = assert_error(api_client.post(KEYS_URL, '{"name": ', content_type="application/json"), 400, "parse_error")

    assert body["error"].startswith("JSON parse error")


def test_wrong_content_type_is_a_415(api_client):
    response = api_client.post(KEYS_URL, "name=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; indent=2", "text/*, */*"])
def test_json_is_the_answer_to_any_accept_that_takes_it(api_client, accept):
    headers = {} if accept is None else {"Accept": accept}

    response = api_client.get("/api/v1/billing/balance/", headers=headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"sms_credits": 100}


def test_an_accept_that_refuses_json_is_a_406_in_json(api_client):
    response = api_client.get("/api/v1/billing/balance/", headers={"Accept": "text/html"})

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_acceptable"


def test_wrong_method_is_a_405(api_client):
    assert_error(api_client.put(KEYS_URL, {}, format="json"), 405, "method_not_allowed")


def test_missing_key_is_a_401(anonymous_client, db):
    assert_error(anonymous_client.get(KEYS_URL), 401, "not_authenticated")


def test_insufficient_credits_is_a_402(api_client, account):
    from billing.services import credits_debit
    from smsplatform.api.exceptions import api_exception_handler
    from smsplatform.errors import InsufficientCredits

    with pytest.raises(InsufficientCredits) as raised:
        credits_debit(account_id=account.pk, amount=account.sms_credits + 1)
    response = api_exception_handler(raised.value, {})

    assert response.status_code == 402
    assert response.data == {"error": "Insufficient SMS credits.", "code": "insufficient_credits"}


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope/", "/api/v2/sms/send/", "/api/v1/auth/keys/x/y/z"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_paths_are_a_json_404(db, path, method):
    response = getattr(Client(), method)(path)

    assert_error(response, 404, "not_found")


def test_unknown_path_is_json_also_with_debug_on(db, settings):
    settings.DEBUG = True

    assert_error(Client().get("/api/v1/nope/"), 404, "not_found")


def test_body_over_the_limit_is_a_413_and_creates_nothing(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = api_client.post(KEYS_URL, {"name": "x" * 200}, format="json")

    assert_error(response, 413, "request_too_large")
    assert api_client.get(KEYS_URL).json()["keys"] != []  # the client still works


@pytest.mark.urls("tests.api.crash_urls")
def test_unhandled_exception_is_a_json_500_without_a_traceback(api_client):
    response = api_client.get("/test/crash/")

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error.", "code": "server_error"}
    assert b"secret internal detail" not in response.content


@pytest.mark.urls("tests.api.crash_urls")
def test_crash_outside_the_api_views_is_a_json_500(db):
    client = Client(raise_request_exception=False)

    response = client.get("/test/crash-django/")

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error.", "code": "server_error"}


@pytest.mark.parametrize("path", ["/api/v1/auth/keys", "/api/v1/auth/keys/"])
def test_paths_work_with_and_without_trailing_slash_for_every_method(api_client, path):
    created = api_client.post(path, {"name": "slashless"}, format="json")
    assert created.status_code == 201
    assert api_client.get(path).status_code == 200
    key_id = created.json()["id"]

    for revoke_path in (f"/api/v1/auth/keys/{key_id}", f"/api/v1/auth/keys/{key_id}/"):
        response = api_client.delete(revoke_path)
        assert response.status_code in (204, 404)
        assert response.status_code != 301


def test_no_redirect_for_a_slashless_post(api_client):
    response = api_client.post("/api/v1/auth/keys", {}, format="json")

    assert response.status_code == 201
