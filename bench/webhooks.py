"""Benchmark of status webhooks: a campaign with receipts on, every status event POSTed to the account's webhook.

A 20,000-recipient campaign through the API (a Celery worker with two processes, PostgreSQL, Redis, the fake
gateway reporting delivery 0.1 s after each batch) produces 40,000 `message.status` events (sent, then delivered)
for a loopback receiver that answers each POST after 50 ms. It reports the seconds from send/ until the receiver
has them all, events per second, the most POSTs in flight at once (WEBHOOK_MAX_IN_FLIGHT caps it), the events
received twice, and beside it, in the same run, the rate of the platform's own health endpoint, the reference for
comparing machines. Prints one JSON object. BENCH_WEBHOOK_MESSAGES (20000) and BENCH_WEBHOOK_IN_FLIGHT (the
platform's default) change the run.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the receiver the tests use

from _harness import (
    PYTHON,
    api,
    background,
    fresh_database,
    gunicorn,
    health_rate,
    make_group,
    manage,
    platform_env,
    psql,
    redis_flush,
)

from tests.webhooks.receiver import WebhookReceiver

DATABASE = "smsplatform_bench_webhooks"
PORT = int(os.environ.get("BENCH_PORT", "8935"))
ANSWER_SECONDS = 0.05
RECEIPT_DELAY = 0.1


def wait_for(condition, *, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("The benchmark did not finish in time.")
        time.sleep(interval)
    return result


def main() -> dict:
    size = int(os.environ.get("BENCH_WEBHOOK_MESSAGES", "20000"))
    in_flight = os.environ.get("BENCH_WEBHOOK_IN_FLIGHT")
    fresh_database(DATABASE)
    redis_flush()
    gateway = {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": RECEIPT_DELAY}}
    env = platform_env(
        DATABASE,
        API_RATE_LIMIT="1000000/s",
        SMS_GATEWAYS=json.dumps({"default": gateway}),
        WEBHOOK_ALLOW_PRIVATE="true",  # the receiver is on loopback
        **({"WEBHOOK_MAX_IN_FLIGHT": in_flight} if in_flight else {}),
    )
    manage(env, "migrate", "--no-input")
    key = manage(env, "createaccount", "Bench", "--credits", str(size), "--sender", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    worker = [PYTHON, "-m", "celery", "-A", "smsplatform", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
    with (
        WebhookReceiver(delay=ANSWER_SECONDS) as receiver,
        background(worker, env, name="worker"),
        gunicorn(env, port=PORT, workers=2, timeout=600),
    ):
        reference = health_rate(PORT)
        api(PORT, key, "PUT", "/api/v1/webhooks/", {"url": receiver.url, "events": ["message.status"]})
        group_id = make_group(DATABASE, account_id, size)
        campaign = api(PORT, key, "POST", "/api/v1/campaigns/", {
            "name": "Webhooks", "message": "Hi {name}, your order is ready.", "sender_name": "Bench",
            "group_id": group_id,
        })  # fmt: skip
        started = time.monotonic()
        api(PORT, key, "POST", f"/api/v1/campaigns/{campaign['id']}/send/")
        first = wait_for(lambda: receiver.received and time.monotonic(), timeout=60)
        last = wait_for(lambda: len(receiver.received) >= 2 * size and time.monotonic(), timeout=1800, interval=0.1)
        time.sleep(1)  # anything sent twice arrives now
        events = receiver.events()
    ids = {(event["data"]["message_id"], event["data"]["status"]) for event in events}
    states = psql("SELECT state, count(*) FROM webhooks_webhookdelivery GROUP BY state ORDER BY state", DATABASE)
    return {
        "benchmark": "webhooks",
        "messages": size,
        "events": len(ids),
        "receiver_answer_seconds": ANSWER_SECONDS,
        "receipt_delay_seconds": RECEIPT_DELAY,
        "max_in_flight_setting": int(in_flight) if in_flight else "default",
        "seconds_send_to_first_event": round(first - started, 2),
        "seconds_send_to_all_events": round(last - started, 2),
        "events_per_second": round(2 * size / (last - first), 1),
        "most_in_flight_seen": receiver.most_in_flight,
        "received_twice": len(events) - len(ids),
        "deliveries_by_state": dict(line.split("|") for line in states.splitlines()),
        "worker": {"processes": 2},
        "reference": reference,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
