import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient


def test_health_reports_database_broker_and_gateways(db):
    response = APIClient().get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "gateways": {"default": {"available": True, "circuit": "closed"}},
        "routes_down": [],
    }


FAKE = {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}


def test_health_is_degraded_when_a_route_has_no_gateway_left(db, settings):
    settings.SMS_GATEWAYS = {"default": FAKE, "netone": FAKE}
    settings.SMS_ROUTES = {"+26371": ["netone"], "+26377": ["netone", "default"]}
    cache.set("circuit:open:netone", 1, timeout=30)  # as another process opened it

    response = APIClient().get("/api/v1/health/")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["routes_down"]) == ("degraded", ["+26371"])
    assert body["gateways"]["netone"] == {"available": False, "circuit": "open"}


def test_health_is_503_when_no_route_can_deliver(db, settings):
    cache.set("circuit:open:default", 1, timeout=30)

    response = APIClient().get("/api/v1/health/")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["code"], body["routes_down"]) == ("unavailable", "unavailable", ["default"])
    assert body["error"] == "No gateway can deliver messages now."


def test_health_is_degraded_when_the_broker_is_down(db, settings):
    """The API serves on without the broker (sends are queued for the sweeper): a load balancer must keep it."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = APIClient().get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("degraded", "ok", "unavailable")


def test_health_is_503_when_the_database_is_down(transactional_db):
    database = connection.settings_dict
    saved = dict(database)
    connection.close()
    # Nothing listens on port 1; SQLite cannot open a file in a folder that does not exist.
    if connection.vendor == "postgresql":
        database["PORT"] = 1
    else:
        database["NAME"] = "/nonexistent/db.sqlite3"
    try:
        response = APIClient().get("/api/v1/health")
    finally:
        connection.close()
        database.clear()
        database.update(saved)

    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.json()
    assert (body["status"], body["database"], body["code"]) == ("unavailable", "unavailable", "unavailable")
    assert body["error"] == "The database is unavailable."


@pytest.mark.redis
def test_health_checks_the_real_redis_broker(db, real_broker, settings):
    assert settings.CELERY_BROKER_URL.startswith("redis://")

    assert APIClient().get("/api/v1/health/").json()["broker"] == "ok"


def test_schema_is_openapi_3_with_the_api_key_scheme_and_error_shape(db):
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
    }
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"error", "code"}
    keys = schema["paths"]["/api/v1/auth/keys/"]
    assert keys["get"]["security"] == [{"ApiKeyAuth": []}]
    assert keys["post"]["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    page = schema["paths"]["/api/v1/billing/transactions/"]["get"]["responses"]["200"]["content"]["application/json"]
    page_schema = schema["components"]["schemas"][page["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(page_schema["properties"]) == {"count", "next", "previous", "transactions"}


def test_docs_page_is_served_without_a_key(db):
    response = APIClient().get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
