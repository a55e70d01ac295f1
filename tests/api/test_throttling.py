import pytest
import redis
from rest_framework.test import APIClient

from accounts.keys import key_hash
from tests.factories import api_key_for


@pytest.mark.parametrize("rate", ["3/m", "3/minute", "3/h"])
def test_requests_over_the_per_key_limit_get_429_with_retry_after(api_client, settings, rate):
    settings.API_RATE_LIMIT = rate

    statuses = [api_client.get("/api/v1/billing/balance/").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    response = api_client.get("/api/v1/billing/balance/")
    assert response.json()["code"] == "rate_limited"
    assert response.json()["error"].startswith("Rate limit exceeded.")
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_the_limit_is_per_key(api_client, account, settings):
    settings.API_RATE_LIMIT = "2/m"
    for _ in range(3):
        api_client.get("/api/v1/billing/balance/")
    fresh = APIClient()
    fresh.credentials(HTTP_X_API_KEY=api_key_for(account))

    assert fresh.get("/api/v1/billing/balance/").status_code == 200
    assert api_client.get("/api/v1/billing/balance/").status_code == 429


def test_health_is_not_throttled(db, settings):
    settings.API_RATE_LIMIT = "1/m"
    client = APIClient()

    assert [client.get("/api/v1/health/").status_code for _ in range(3)] == [200, 200, 200]


def test_default_limit_lets_a_busy_customer_through(api_client):
    statuses = {api_client.get("/api/v1/billing/balance/").status_code for _ in range(300)}

    assert statuses == {200}


@pytest.mark.redis
def test_the_counter_is_kept_in_redis_for_every_process(api_client, api_key, settings):
    settings.API_RATE_LIMIT = "5/m"

    for _ in range(2):
        api_client.get("/api/v1/billing/balance/")

    server = redis.Redis.from_url(settings.REDIS_URL)
    counters = server.keys(f"*throttle:{key_hash(api_key)}:*")
    assert len(counters) == 1
    assert int(server.get(counters[0])) == 2
    assert 0 < server.ttl(counters[0]) <= 61  # the counter goes with its window
