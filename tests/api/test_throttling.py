import ipaddress
import random

import pytest
import redis
from django.core import checks
from rest_framework.test import APIClient

from accounts.keys import key_generate, key_hash
from smsplatform.api.checks import API_TAG
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


# --- Requests without a valid key, per client address (API_ANON_RATE_LIMIT) ------------------------------------


def client_at(address: str, **extra) -> APIClient:
    """A client whose requests come from `address`; each test takes an address of its own, as the counters are
    shared (Redis) and outlive the test."""
    return APIClient(REMOTE_ADDR=address, **extra)


def fresh_address() -> str:
    return str(ipaddress.IPv4Address(random.randrange(0x0A000000, 0x0B000000)))  # in 10.0.0.0/8


@pytest.fixture
def anon_limit(settings):
    settings.API_ANON_RATE_LIMIT = "3/m"


def test_requests_without_a_valid_key_over_the_address_limit_get_429_with_retry_after(db, anon_limit):
    client = client_at(fresh_address())

    statuses = [
        client.get("/api/v1/billing/balance/").status_code,
        client.get("/api/v1/billing/balance/", HTTP_X_API_KEY="nonsense").status_code,
        client.get("/api/v1/billing/balance/", HTTP_X_API_KEY=key_generate()).status_code,
        client.get("/api/v1/billing/balance/").status_code,
        client.get("/api/v1/billing/balance/", HTTP_X_API_KEY=key_generate()).status_code,
    ]

    assert statuses == [401, 401, 401, 429, 429]
    response = client.get("/api/v1/billing/balance/")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_an_address_over_the_limit_costs_no_query_for_a_made_up_key(db, anon_limit, django_assert_num_queries):
    client = client_at(fresh_address())
    for _ in range(4):
        client.get("/api/v1/billing/balance/", HTTP_X_API_KEY=key_generate())

    with django_assert_num_queries(0):
        assert client.get("/api/v1/billing/balance/", HTTP_X_API_KEY=key_generate()).status_code == 429


def test_a_valid_key_is_not_held_to_its_address_limit(account, api_key, anon_limit):
    address = fresh_address()
    keyed = client_at(address, HTTP_X_API_KEY=api_key)
    assert {keyed.get("/api/v1/billing/balance/").status_code for _ in range(5)} == {200}
    for _ in range(5):
        client_at(address).get("/api/v1/billing/balance/")

    assert keyed.get("/api/v1/billing/balance/").status_code == 200
    assert client_at(address).get("/api/v1/billing/balance/").status_code == 429


def test_x_forwarded_for_counts_only_behind_trusted_proxies(db, settings):
    settings.API_ANON_RATE_LIMIT = "1/m"
    proxy = fresh_address()

    def statuses():
        return [
            client_at(proxy, HTTP_X_FORWARDED_FOR=f"{fresh_address()}, {fresh_address()}")
            .get("/api/v1/billing/balance/")
            .status_code
            for _ in range(2)
        ]

    assert statuses() == [401, 429]  # a client writes what it likes in X-Forwarded-For: the proxy is the client
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {"NUM_PROXIES": 1}
    assert statuses() == [401, 401]  # behind our proxy, the address it saw (the last one) counts


def test_ipv6_addresses_count_per_64_block(db, settings):
    settings.API_ANON_RATE_LIMIT = "1/m"
    block = f"2001:db8:{random.randrange(0x10000):x}:{random.randrange(0x10000):x}"

    assert client_at(f"{block}::1").get("/api/v1/billing/balance/").status_code == 401
    assert client_at(f"{block}::2").get("/api/v1/billing/balance/").status_code == 429


def test_the_docs_are_held_to_the_address_limit_and_health_is_not(db, anon_limit):
    client = client_at(fresh_address())

    assert [client.get("/api/v1/docs/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [client.get("/api/v1/health/").status_code for _ in range(4)] == [200] * 4


@pytest.mark.parametrize("name", ["API_RATE_LIMIT", "API_ANON_RATE_LIMIT"])
def test_a_malformed_rate_limit_fails_the_system_checks(settings, name):
    setattr(settings, name, "lots")

    # Only the API's checks: the models' need a database on SQLite, and this test has none.
    errors = [error for error in checks.run_checks(tags=[API_TAG]) if error.id == "api.E001"]

    assert [error.msg for error in errors] == [f"{name}: A rate limit must look like '1000/s', not 'lots'."]


def test_the_configured_rate_limits_pass_the_system_checks():
    assert [error for error in checks.run_checks(tags=[API_TAG]) if error.id == "api.E001"] == []
