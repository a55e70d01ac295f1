import os
from datetime import datetime
from typing import NamedTuple

import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.test import Client
from django.utils import timezone
from kombu.transport import memory
from kombu.utils import json
from rest_framework.test import APIClient

from gateways.backends import fake
from gateways.circuit import circuit_close, circuits_forget
from messaging.selectors import sender_cache_clear
from smsplatform.celery import app as celery_app

from .browser.helpers import chromium_missing
from .factories import AccountFactory, SenderIdFactory, UserFactory, api_key_for

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    """`postgres`, `redis` and `browser` tests are skipped without those services, and fail instead with
    REQUIRE_SERVICES=1. A test using the `browser` fixture (tests/browser/conftest.py) is a `browser` test."""
    missing = {}
    if settings.DATABASES["default"]["ENGINE"] != "smsplatform.postgresql":
        missing["postgres"] = "needs PostgreSQL (DATABASE_URL=postgres://…)"
    if not settings.REDIS_URL:
        missing["redis"] = "needs Redis (REDIS_URL=redis://…)"
    if reason := chromium_missing():
        missing["browser"] = reason
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        for marker, reason in missing.items():
            if marker in item.keywords:
                if REQUIRE_SERVICES:
                    item.add_marker(pytest.mark.usefixtures("_missing_service_" + marker))
                else:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _missing_service_postgres():
    pytest.fail("REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL")


@pytest.fixture
def _missing_service_redis():
    pytest.fail("REQUIRE_SERVICES=1 but REDIS_URL is not set")


@pytest.fixture
def _missing_service_browser():
    pytest.fail(f"REQUIRE_SERVICES=1 but the browser tests' {chromium_missing()}")


@pytest.fixture
def account(db):
    return AccountFactory(credits=100)


@pytest.fixture
def api_key(account) -> str:
    return api_key_for(account)


@pytest.fixture
def api_client(api_key) -> APIClient:
    """A client of `account`, sending its key on every request."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)
    return client


@pytest.fixture
def other_account(db):
    return AccountFactory(credits=50)


@pytest.fixture
def other_client(other_account) -> APIClient:
    """A client of another account: it must never see or change `account`'s data."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(other_account))
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def owner(account):
    """`account`'s owner: a staff user of the dashboard tied to it."""
    return UserFactory(is_staff=True, account=account)


@pytest.fixture
def owner_client(owner) -> Client:
    """The dashboard, logged in as `account`'s owner."""
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def superuser_client(db) -> Client:
    """The dashboard, logged in as an operator."""
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture(autouse=True)
def _empty_fake_outbox_and_process_caches(settings):
    fake.outbox.clear()
    sender_cache_clear()
    circuits_forget()
    yield
    # A circuit a test opened must not outlive it (the cache may be Redis). Torn down before `settings`
    # restores SMS_GATEWAYS, so this sees the test's own gateways.
    for alias in settings.SMS_GATEWAYS:
        circuit_close(alias)


@pytest.fixture
def outbox():
    """What the fake gateway was asked to send, oldest first."""
    return fake.outbox


@pytest.fixture
def sender(account):
    """An approved sender ID of `account`."""
    return SenderIdFactory(account=account, name="MyBrand")


@pytest.fixture
def gateway_mode(settings):
    """Set how the fake gateway answers: gateway_mode("reject"), gateway_mode("fail"), gateway_mode(latency=…)."""

    def set_mode(mode: str = "accept", **options):
        settings.SMS_GATEWAYS = {
            "default": {
                "BACKEND": "gateways.backends.fake.FakeGateway",
                "OPTIONS": {"mode": mode, "delivery_delay": None, **options},
            }
        }

    return set_mode


class EnqueuedTask(NamedTuple):
    name: str
    args: list
    kwargs: dict
    countdown: float | None  # seconds from its publication to its ETA; None: to run at once


@pytest.fixture
def enqueued() -> list[EnqueuedTask]:
    """The Celery tasks this test published, oldest first (to the in-memory broker, where no worker takes them)."""
    tasks = []

    def record(sender, body, headers, **_):
        args, kwargs, _embed = json.loads(json.dumps(body))  # as a worker gets them, through the JSON serializer
        eta = headers["eta"] and datetime.fromisoformat(headers["eta"])
        tasks.append(EnqueuedTask(sender, args, kwargs, eta and (eta - timezone.now()).total_seconds()))

    after_task_publish.connect(record, weak=False)
    yield tasks
    after_task_publish.disconnect(record)


def celery_pools_forget() -> None:
    """The Celery app keeps the connection and producer pools of the broker it first published to: forget them,
    so that its next publish connects to the broker CELERY_BROKER_URL names then."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(autouse=True)
def _in_memory_broker_emptied():
    yield
    memory.Channel.queues.clear()  # kombu's in-memory broker: its queues are this process-wide dict
    celery_pools_forget()  # back to the in-memory broker after a test that used `real_broker`


@pytest.fixture
def real_broker(settings):
    """The platform's Redis broker instead of the in-memory one, for a test whose tasks a worker it starts
    (`tests.worker.celery_worker`) must receive; workers started meanwhile are given the same broker. Returns a
    function that moves both to another broker for the rest of the test, e.g. `real_broker(server.url(1))` on a
    private redis-server (`tests.redis_server`)."""

    def use(url: str) -> None:
        settings.CELERY_BROKER_URL = url
        celery_pools_forget()

    use(settings.REAL_CELERY_BROKER_URL)
    return use
