"""The API through a Redis outage, for real: gunicorn, the bind process and a Celery worker on a redis-server of
the test's own, stopped and started; PostgreSQL holds the truth throughout.

What cannot reach Redis does without it: keys are checked in the database, rate limits are not enforced, a send
is charged, stored and answered `queued`, and beat's sweeps submit it once Redis is back.
"""

import json
import os
import signal
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.urls import path
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from accounts.keys import key_hash
from accounts.selectors import api_key_cache_key
from accounts.services import api_key_create
from billing.models import Transaction
from campaigns.models import Campaign
from messaging.models import Message
from smsplatform.api.views import AccountApi
from smsplatform.cache import redis_outage
from smsplatform.urls import urlpatterns as real_urlpatterns
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import AccountFactory, ContactFactory, GroupFactory, SenderIdFactory, api_key_for
from tests.redis_server import free_port, private_redis
from tests.smppd import bind_process, fake_smsc, smpp_gateway, unique_alias
from tests.worker import celery_worker, process_running, wait_until
from tests.worker import test_database_url as database_url

SENDER = "Outage"
# A Redis that does not answer must not make a send wait long (REDIS_TIMEOUT 0.5 s, once per request at most).
SEND_SECONDS_MAX = 1.5


# --- What escapes a view ----------------------------------------------------------------------------------------


class RedisDownApi(AccountApi):
    def get(self, request):
        raise redis.ConnectionError("Error 111 connecting to 10.0.0.5:6379. Connection refused.")


class BrokerDownApi(AccountApi):
    def get(self, request):
        raise OperationalError("Error 111 connecting to 10.0.0.5:6379. Connection refused.")


def redis_down_outside_the_api(request):
    raise redis.TimeoutError("Timeout reading from 10.0.0.5:6379")


urlpatterns = [
    path("test/redis-down/", RedisDownApi.as_view()),
    path("test/broker-down/", BrokerDownApi.as_view()),
    path("test/redis-down-django/", redis_down_outside_the_api),
    *real_urlpatterns,
]
handler500 = "smsplatform.api.exceptions.server_error"


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/test/redis-down/", "/test/broker-down/"])
def test_redis_unreachable_in_a_view_is_a_json_503_with_retry_after(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 503
    assert response.json() == {
        "error": "A service the platform needs is unavailable for a moment. Try again shortly.",
        "code": "service_unavailable",
    }
    assert response["Retry-After"] == "5"
    assert "10.0.0.5" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_redis_unreachable_outside_the_api_views_is_a_json_503_too(db):
    client = APIClient(raise_request_exception=False)

    response = client.get("/test/redis-down-django/")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"


@pytest.fixture
def outage_forgotten():
    """This process's memory of an outage (smsplatform.cache.redis_outage) must not outlive the test that caused it."""
    yield
    redis_outage.forget()


def test_the_fake_gateway_still_sends_once_when_its_delivery_reports_cannot_be_queued(
    api_client, sender, settings, real_broker, outbox, outage_forgotten
):
    settings.SMS_GATEWAYS = {"default": {"BACKEND": "gateways.backends.fake.FakeGateway",
                                         "OPTIONS": {"delivery_delay": 1.0}}}  # fmt: skip
    real_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there

    response = api_client.post(
        "/api/v1/sms/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "sent"
    assert len(outbox) == 1


# --- The platform on a redis-server of the test's own --------------------------------------------------------------


@contextmanager
def web_server(tmp_path: Path, *, redis_url: str, gateways: dict, **environment):
    """gunicorn (one sync worker, production settings) on a free loopback port; yields an httpx client for it."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="smsplatform.settings",
        SECRET_KEY="outage-test-secret-key",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        VAR_DIR=str(tmp_path),
        SMS_GATEWAYS=json.dumps(gateways),
        SMS_DEFAULT_GATEWAY=next(iter(gateways)),
        **{key: str(value) for key, value in environment.items()},
    )
    env.pop("CELERY_BROKER_URL", None)
    command = [sys.executable, "-m", "gunicorn", "smsplatform.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "1", "--log-level", "warning"]  # fmt: skip
    with (
        process_running(command, env=env, log_path=tmp_path / "web.log") as process,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):

        def up():
            try:
                return client.get("/api/v1/health/").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=30, log=process.log_path)
        yield client


@pytest.fixture
def platform(settings, tmp_path):
    """A private redis-server, the fake SMSC, the bind process and gunicorn, all on loopback.

    Yields (redis server, web client, SMS_GATEWAYS, SMSC); settings.REDIS_URL names the private server, so
    that `celery_worker` starts a worker on it."""
    alias = unique_alias()
    with private_redis(tmp_path / "redis") as server, fake_smsc() as smsc:
        settings.REDIS_URL = server.url(0)
        gateways = {alias: smpp_gateway(smsc.port)}
        with (
            bind_process(tmp_path, gateways),
            # Retries 1 s apart, not 10: the sweeper picks up what the outage queued within the test.
            web_server(tmp_path, redis_url=server.url(0), gateways=gateways, SMS_RETRY_BASE_DELAY=1) as web,
        ):
            yield server, web, gateways, smsc


def keyed(secret: str) -> dict:
    return {"X-API-KEY": secret}


def send(web, secret: str, text: str, **headers) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = web.post(
        "/api/v1/sms/send/",
        json={"to": "0771234567", "sender": SENDER, "message": text},
        headers=keyed(secret) | headers,
    )
    return response, time.monotonic() - started


def texts_at_the_smsc(smsc) -> Counter:
    return Counter(message["text"] for message in smsc.messages())


def make_account():
    account = AccountFactory(credits=100)
    SenderIdFactory(account=account, name=SENDER)
    return account


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_through_a_redis_outage_sends_are_queued_charged_once_and_sent_once_redis_is_back(platform, tmp_path):
    server, web, gateways, smsc = platform
    account = make_account()
    known, never_seen = api_key_for(account), api_key_for(account)
    leaked_key, leaked = api_key_create(account=account, name="Leaked")
    group = GroupFactory(account=account)
    ContactFactory.create_batch(2, account=account, groups=[group])
    assert send(web, known, "before")[0].json()["status"] == "sent"
    assert web.get("/api/v1/billing/balance/", headers=keyed(leaked)).status_code == 200  # its lookup is cached now
    campaign = web.post(
        "/api/v1/campaigns/",
        json={"name": "Outage", "message": "Campaign for {name}", "sender_name": SENDER, "group_id": str(group.pk)},
        headers=keyed(known),
    ).json()

    server.stop()

    sends = [send(web, known, f"outage {n}") for n in range(4)] + [send(web, never_seen, "outage 4")]
    first, _ = send(web, known, "outage again", **{"Idempotency-Key": "outage-1"})
    replay, _ = send(web, known, "outage again", **{"Idempotency-Key": "outage-1"})
    reads = {
        url: web.get(url, headers=keyed(known))
        for url in ["/api/v1/billing/balance/", "/api/v1/billing/transactions/", "/api/v1/sms/history/",
                    f"/api/v1/sms/messages/{first.json()['message_id']}/", "/api/v1/auth/keys/",
                    "/api/v1/sms/senders/", "/api/v1/contacts/", "/api/v1/campaigns/"]
    }  # fmt: skip
    campaign_sent = web.post(f"/api/v1/campaigns/{campaign['id']}/send/", headers=keyed(known))
    revoked = web.delete(f"/api/v1/auth/keys/{leaked_key.pk}/", headers=keyed(known))
    refused = web.get("/api/v1/billing/balance/", headers=keyed(leaked))
    health = web.get("/api/v1/health/")

    assert [response.status_code for response, _ in sends] == [201] * 5
    assert [response.json()["status"] for response, _ in sends] == ["queued"] * 5
    assert [response.json()["sms_credits"] for response, _ in sends] == [98, 97, 96, 95, 94]
    assert max(seconds for _, seconds in sends) < SEND_SECONDS_MAX
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert {url: response.status_code for url, response in reads.items()} == dict.fromkeys(reads, 200)
    assert reads["/api/v1/billing/balance/"].json() == {"sms_credits": 93}
    assert campaign_sent.status_code == 202
    assert campaign_sent.json()["status"] == "sending"  # beat's campaigns_sweep dispatches it once Redis is back
    assert (revoked.status_code, refused.status_code) == (204, 401)
    # The bind process's states are in Redis: no route is known to deliver, though sends are accepted.
    assert health.status_code == 503
    assert health.headers["Retry-After"] == "5"
    assert (health.json()["broker"], health.json()["routes_down"]) == ("unavailable", ["default"])

    server.start()

    worker_env = {"SMS_GATEWAYS": json.dumps(gateways), "SMS_DEFAULT_GATEWAY": next(iter(gateways)),
                  "SMS_SWEEP_INTERVAL": 1, "SMS_SWEEP_GRACE": 0, "CAMPAIGN_SWEEP_INTERVAL": 1}  # fmt: skip
    with celery_worker(tmp_path, beat=True, **worker_env) as worker:
        wait_until(lambda: all_sent(account, campaign["id"]), timeout=60, log=worker.log_path)
    texts = texts_at_the_smsc(smsc)
    assert [texts[f"outage {n}"] for n in range(5)] + [texts["outage again"]] == [1] * 6
    contacts = sorted(f"Campaign for {contact.first_name}" for contact in group.contacts.all())
    assert sorted(text for text in texts.elements() if text.startswith("Campaign for")) == contacts
    assert Transaction.objects.filter(account=account, type=Transaction.Type.DEBIT).count() == 1 + 6 + 1
    assert not Transaction.objects.filter(account=account, type=Transaction.Type.REFUND).exists()
    assert assert_ledger_matches(account.pk) == 100 - 1 - 6 - 2
    assert web.get("/api/v1/billing/balance/", headers=keyed(leaked)).status_code == 401
    assert send(web, known, "after")[0].json()["status"] == "sent"
    log = (tmp_path / "web.log").read_text()
    assert log.count("Redis does not answer") == 1  # once for the outage, not once per request
    assert log.count("Redis answers again") == 1


def all_sent(account, campaign_id) -> bool:
    return (
        not Message.objects.filter(account=account, status=Message.Status.QUEUED).exists()
        and Campaign.objects.get(pk=campaign_id).status == Campaign.Status.COMPLETED
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_redis_that_hangs_costs_a_send_one_timeout_and_a_key_revoked_meanwhile_stays_revoked(platform):
    server, web, _, _ = platform
    account = make_account()
    known = api_key_for(account)
    leaked_key, leaked = api_key_create(account=account, name="Leaked")
    assert web.get("/api/v1/billing/balance/", headers=keyed(leaked)).status_code == 200  # its lookup is cached now
    cached_lookup = f":1:{api_key_cache_key(key_hash(leaked))}"

    server.process.send_signal(signal.SIGSTOP)  # it keeps its connections and its data, and answers nothing
    try:
        sends = [send(web, known, f"hung {n}") for n in range(3)]
        revoked = web.delete(f"/api/v1/auth/keys/{leaked_key.pk}/", headers=keyed(known))
        refused = web.get("/api/v1/billing/balance/", headers=keyed(leaked))
    finally:
        server.process.send_signal(signal.SIGCONT)

    assert [response.json()["status"] for response, _ in sends] == ["queued"] * 3
    assert max(seconds for _, seconds in sends) < SEND_SECONDS_MAX
    assert revoked.status_code == 204
    assert refused.status_code == 401
    # Redis still holds the lookup it cached before the outage, as one that keeps its data across a restart would.
    assert redis.Redis.from_url(server.url(0)).get(cached_lookup) is not None
    time.sleep(settings.REDIS_RETRY_INTERVAL + 0.2)  # the web process asks Redis again

    assert web.get("/api/v1/billing/balance/", headers=keyed(leaked)).status_code == 401
    assert web.get("/api/v1/billing/balance/", headers=keyed(known)).status_code == 200
