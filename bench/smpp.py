"""Benchmark of the SMPP path: a campaign through the bind process to the fake SMSC on loopback, receipts on.

For one bind with `tps` 0 and each window (10 and 50) it sends a 20,000-recipient campaign through the API
(a Celery worker with two processes hands the batches over), and reports submit_sm per second as the fake
SMSC counted them, the seconds from send/ until every receipt is applied (every message delivered), the bind
process's CPU and peak memory, and what was sent twice. Beside it, in the same run, the rate of the
platform's own health endpoint, the reference for comparing machines. Prints one JSON object.
BENCH_SMPP_MESSAGES (20000) and BENCH_SMPP_WINDOWS (10,50) change the run.
"""

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    api,
    background,
    cpu_seconds,
    fresh_database,
    gunicorn,
    health_rate,
    make_group,
    manage,
    peak_memory_mb,
    platform_env,
    psql,
    redis_flush,
)

DATABASE = "smsplatform_bench_smpp"
PORT = int(os.environ.get("BENCH_PORT", "8934"))
SMSC_PORT, SMSC_CONTROL_PORT = 12775, 12776
RECEIPT_DELAY = 0.1  # seconds: the receipts are part of the measure, not the SMSC's wait


def smsc_stats() -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{SMSC_CONTROL_PORT}/stats", timeout=5) as response:
        return json.loads(response.read())


def wait_for(condition, *, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("The benchmark did not finish in time.")
        time.sleep(interval)
    return result


def run(window: int, size: int, offset: int) -> dict:
    gateway = {
        "BACKEND": "gateways.backends.smpp.SmppGateway",
        "OPTIONS": {"host": "127.0.0.1", "port": SMSC_PORT, "system_id": "bench", "password": "bench",
                    "binds": 1, "window": window, "tps": 0, "message_id_format": "hex", "receipt_id_format": "hex"},
    }  # fmt: skip
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s", SMS_GATEWAYS=json.dumps({"default": gateway}))
    key = manage(env, "createapikey", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    smsc = [PYTHON, "manage.py", "fakesmsc", "--port", str(SMSC_PORT), "--control-port", str(SMSC_CONTROL_PORT),
            "--receipt-delay", str(RECEIPT_DELAY), "--keep-messages", "0"]  # fmt: skip
    worker = [PYTHON, "-m", "celery", "-A", "smsplatform", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
    with (
        background(smsc, env, name="fakesmsc"),
        background([PYTHON, "manage.py", "smppd"], env, name="smppd") as smppd,
        background(worker, env, name="worker"),
        gunicorn(env, port=PORT, workers=2, timeout=600),
    ):
        wait_for(lambda: api(PORT, key, "GET", "/api/v1/health/")["gateways"]["default"]["available"], timeout=30)
        reference = health_rate(PORT)
        group_id = make_group(DATABASE, account_id, size, offset)
        campaign = api(PORT, key, "POST", "/api/v1/campaigns/", {
            "name": f"SMPP window {window}", "message": "Hi {name}, your order is ready.", "sender_name": "Bench",
            "group_id": group_id,
        })  # fmt: skip
        submitted_before, cpu_before = smsc_stats()["submit_sm"], cpu_seconds(smppd.pid)
        started = time.monotonic()
        api(PORT, key, "POST", f"/api/v1/campaigns/{campaign['id']}/send/")
        first_submit = wait_for(lambda: smsc_stats()["submit_sm"] > submitted_before and time.monotonic(), timeout=60)
        last_submit = wait_for(
            lambda: smsc_stats()["submit_sm"] - submitted_before >= size and time.monotonic(), timeout=600
        )
        delivered_sql = f"SELECT count(*) FROM messaging_message WHERE campaign_id = '{campaign['id']}'"
        wait_for(lambda: int(psql(delivered_sql + " AND status = 'delivered'", DATABASE)) == size, timeout=600,
                 interval=0.1)  # fmt: skip
        all_delivered = time.monotonic()
        cpu = cpu_seconds(smppd.pid) - cpu_before
        memory = peak_memory_mb([smppd.pid])[smppd.pid]
        submitted = smsc_stats()["submit_sm"] - submitted_before
    return {
        "window": window,
        "messages": size,
        "submit_sm_per_second": round(size / (last_submit - first_submit), 1),
        "seconds_send_to_all_submitted": round(last_submit - started, 2),
        "seconds_send_to_every_receipt_applied": round(all_delivered - started, 2),
        "sent_twice": submitted - size,
        "bind_process": {
            "cpu_seconds": round(cpu, 2),
            "cpu_percent_of_one_core": round(100 * cpu / (all_delivered - started), 1),
            "peak_rss_mb": memory,
        },
        "reference": reference,
    }


def main() -> dict:
    size = int(os.environ.get("BENCH_SMPP_MESSAGES", "20000"))
    windows = [int(window) for window in os.environ.get("BENCH_SMPP_WINDOWS", "10,50").split(",")]
    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE)
    manage(env, "migrate", "--no-input")
    manage(env, "createaccount", "Bench", "--credits", str(size * len(windows)), "--sender", "Bench")
    runs = [run(window, size, offset=index * 1_000_000) for index, window in enumerate(windows)]
    return {
        "benchmark": "smpp_campaign",
        "binds": 1,
        "tps": 0,
        "receipt_delay_seconds": RECEIPT_DELAY,
        "fake_smsc": "manage.py fakesmsc on loopback, another process",
        "runs": runs,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
