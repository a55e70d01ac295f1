"""Benchmark of a campaign end to end: send/ through the API, a real Celery worker (two processes)
on Redis and PostgreSQL, the fake gateway, until the campaign is completed.

For 10,000 and 100,000 recipients it reports the seconds of the send/ request (reserve and
snapshot), from send/ to completed, messages per second, and the worker's peak memory per
process (VmHWM), which must not grow with the campaign. Prints one JSON object.
BENCH_CAMPAIGN_SIZES (10000,100000) changes the sizes.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    ROOT,
    api,
    fresh_database,
    gunicorn,
    make_group,
    manage,
    peak_memory_mb,
    platform_env,
    process_tree,
    psql,
    redis_flush,
)

DATABASE = "smsplatform_bench_campaign"
PORT = int(os.environ.get("BENCH_PORT", "8933"))


def run_campaign(key: str, account_id: str, size: int, offset: int, worker_pids: list[int]) -> dict:
    group_id = make_group(DATABASE, account_id, size, offset)
    campaign = api(
        PORT,
        key,
        "POST",
        "/api/v1/campaigns/",
        {"name": f"Bench {size}", "message": "Hi {name}, your order is ready.", "sender_name": "Bench",
         "group_id": group_id},
    )  # fmt: skip
    started = time.monotonic()
    api(PORT, key, "POST", f"/api/v1/campaigns/{campaign['id']}/send/")
    sent_request = time.monotonic() - started
    while (state := api(PORT, key, "GET", f"/api/v1/campaigns/{campaign['id']}/"))["status"] == "sending":
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    return {
        "recipients": size,
        "status": state["status"],
        "stats": state["stats"],
        "send_request_seconds": round(sent_request, 2),
        "send_to_completed_seconds": round(elapsed, 2),
        "messages_per_second": round(size / elapsed, 1),
        "worker_peak_rss_mb": peak_memory_mb(worker_pids),
    }


def main() -> dict:
    sizes = [int(size) for size in os.environ.get("BENCH_CAMPAIGN_SIZES", "10000,100000").split(",")]
    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s")
    manage(env, "migrate", "--no-input")
    credits = sum(sizes) * 2
    key = manage(env, "createaccount", "Bench", "--credits", str(credits), "--sender", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "smsplatform", "worker", "--concurrency", "2", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr,
    )  # fmt: skip
    try:
        time.sleep(3)
        with gunicorn(env, port=PORT, workers=1, timeout=600):
            runs = [
                run_campaign(key, account_id, size, offset=index * 1_000_000, worker_pids=process_tree(worker.pid))
                for index, size in enumerate(sizes)
            ]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    balance, ledger = psql(
        "SELECT a.sms_credits, (SELECT sum(amount) FROM billing_transaction t WHERE t.account_id = a.id)"
        " FROM accounts_account a WHERE name = 'Bench'",
        DATABASE,
    ).split("|")
    return {
        "benchmark": "campaign",
        "worker": {"processes": 2, "batch_size": int(env.get("CAMPAIGN_BATCH_SIZE", 500))},
        "runs": runs,
        "consistency": {
            "balance": int(balance),
            "ledger_sum": int(ledger),
            "balance_equals_ledger": int(balance) == int(ledger),
            "balance_equals_credits_minus_messages": int(balance) == credits - sum(sizes),
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
