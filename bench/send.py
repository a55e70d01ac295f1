"""Benchmark of POST /api/v1/sms/send/ under wrk: gunicorn, PostgreSQL, Redis, and each gateway in turn.

`fake`: the in-process fake gateway. `smpp`: the SMPP gateway, each send handed to the bind process
(`manage.py smppd`) and answered `sent` once the fake SMSC (`manage.py fakesmsc`, another process on
loopback) accepted it. For each it prints requests per second, p50/p99 latency, errors, whether every
send was answered `sent`, and whether the ledger and the messages match the sends that succeeded; beside
them, the health endpoint's rate in the same run. Settings from the environment: BENCH_CONNECTIONS (32),
BENCH_SECONDS (20), BENCH_WEB_WORKERS (4), BENCH_SEND_GATEWAYS (fake,smpp).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contextlib import ExitStack

from _harness import (
    PYTHON,
    background,
    fresh_database,
    gunicorn,
    health_rate,
    manage,
    platform_env,
    psql,
    redis_flush,
    require,
)

DATABASE = "smsplatform_bench_send"
CREDITS = 10_000_000
PORT = int(os.environ.get("BENCH_PORT", "8931"))
SMSC_PORT = 12785
SMPP_GATEWAY = {
    "BACKEND": "gateways.backends.smpp.SmppGateway",
    "OPTIONS": {"host": "127.0.0.1", "port": SMSC_PORT, "system_id": "bench", "password": "bench", "window": 50,
                "message_id_format": "hex", "receipt_id_format": "hex"},
}  # fmt: skip


def main() -> dict:
    gateways = os.environ.get("BENCH_SEND_GATEWAYS", "fake,smpp").split(",")
    return {"benchmark": "sms_send", "runs": [run(gateway) for gateway in gateways]}


def run(gateway: str) -> dict:
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
    wrk = require("wrk")

    fresh_database(DATABASE)
    redis_flush()
    # The per-key limit is raised so that it measures the platform, not the limiter (which still runs).
    overrides = {"API_RATE_LIMIT": "1000000/s"}
    if gateway == "smpp":
        overrides["SMS_GATEWAYS"] = json.dumps({"default": SMPP_GATEWAY})
    env = platform_env(DATABASE, **overrides)
    manage(env, "migrate", "--no-input")
    api_key = manage(env, "createaccount", "Bench", "--credits", str(CREDITS), "--sender", "Bench").splitlines()[-1]

    with ExitStack() as stack:
        if gateway == "smpp":  # receipts off: they are the SMSC's business, after the answer
            smsc = [PYTHON, "manage.py", "fakesmsc", "--port", str(SMSC_PORT), "--no-receipts", "--keep-messages", "0"]
            stack.enter_context(background(smsc, env, name="fakesmsc"))
            stack.enter_context(background([PYTHON, "manage.py", "smppd"], env, name="smppd"))
        stack.enter_context(gunicorn(env, port=PORT, workers=workers))
        reference = health_rate(PORT)
        # A short warm-up: connections opened, code paths imported and cached.
        subprocess.run(
            [wrk, "-t2", "-c8", "-d2s", "-s", "send.lua", f"http://127.0.0.1:{PORT}"],
            cwd=Path(__file__).parent, env={**os.environ, "BENCH_API_KEY": api_key}, capture_output=True, check=True,
        )  # fmt: skip
        warmup_sent = int(psql("SELECT count(*) FROM messaging_message", DATABASE))
        output = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", "send.lua",
             f"http://127.0.0.1:{PORT}"],
            cwd=Path(__file__).parent, env={**os.environ, "BENCH_API_KEY": api_key}, capture_output=True, text=True,
            check=True,
        ).stdout  # fmt: skip
    run = json.loads(output.split("WRK_JSON ", 1)[1].splitlines()[0])
    # Every answer below 400 is a 201 here: the send endpoint answers nothing else that succeeds.
    run["created"] = run["requests"] - run["error_status"]

    messages = int(psql("SELECT count(*) FROM messaging_message", DATABASE)) - warmup_sent
    balance, ledger_sum, debits = psql(
        "SELECT a.sms_credits, (SELECT sum(amount) FROM billing_transaction t WHERE t.account_id = a.id),"
        " (SELECT count(*) FROM billing_transaction t WHERE t.account_id = a.id AND type = 'debit')"
        " FROM accounts_account a WHERE name = 'Bench'",
        DATABASE,
    ).split("|")
    not_sent = int(psql("SELECT count(*) FROM messaging_message WHERE status <> 'sent'", DATABASE))
    queued = int(psql("SELECT count(*) FROM messaging_message WHERE status = 'queued'", DATABASE))
    seconds_measured = run["duration_us"] / 1e6
    return {
        "gateway": gateway,
        "connections": connections,
        "seconds": round(seconds_measured, 2),
        "web": {"server": "gunicorn", "worker_class": "sync", "workers": workers},
        "requests": run["requests"],
        "requests_per_second": round(run["requests"] / seconds_measured, 1),
        "sends_per_second": round(run["created"] / seconds_measured, 1),
        "latency_ms": {
            "p50": run["p50_us"] / 1000,
            "p90": run["p90_us"] / 1000,
            "p99": run["p99_us"] / 1000,
            "max": run["max_us"] / 1000,
        },
        "errors": {"status_400_or_more": run["error_status"], "socket": run["socket_errors"]},
        "consistency": {
            "messages_created": messages,
            # wrk stops with requests in flight, which the server still completes: at most one per connection.
            "completed_after_wrk_stopped": messages - run["created"],
            "matches_successful_sends": 0 <= messages - run["created"] <= connections,
            "debit_rows": int(debits) - warmup_sent,
            "balance": int(balance),
            "ledger_sum": int(ledger_sum),
            "balance_equals_ledger": int(balance) == int(ledger_sum),
            "balance_equals_credits_minus_sends": int(balance) == CREDITS - int(debits),
            "messages_not_sent": not_sent,
            "messages_answered_queued": queued,
        },
        "reference": reference,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
