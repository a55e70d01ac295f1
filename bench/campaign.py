"""Benchmark of a campaign end to end through the SMPP backend: send/ through the API, a real Celery worker on
Redis and PostgreSQL handing the batches to the bind process (`manage.py smppd`), which submits them over SMPP
to the fake SMSC (`manage.py fakesmsc`, another process on loopback) with delivery receipts on; the receipts
come back as deliver_sm and are recorded, and each message ends `delivered`.

For 10,000 and 100,000 recipients it reports the seconds of the send/ request (it reserves the estimate and writes the
first chunk of messages), from send/ to every message prepared (written, queued), from send/ to `completed` (every
submit's outcome recorded) and to every receipt recorded (every message delivered), messages per second, the
CPU each process used (worker, bind process, fake SMSC, web, PostgreSQL's backends of the database) and the peak
memory (VmHWM) of each worker process, of the bind process and of the fake SMSC after each size, which must
stay flat; then whether every message was delivered exactly once and the balance equals the ledger. Beside it,
in the same run, the rate of the platform's health endpoint, the reference for comparing machines. Prints one
JSON object. BENCH_CAMPAIGN_SIZES (10000,100000), BENCH_WORKER_CONCURRENCY (2), BENCH_SMPP_BINDS (1) and
BENCH_SMPP_WINDOW (100) change the run.
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
    balance_and_ledger,
    cpu_seconds,
    fresh_database,
    gunicorn,
    health_rate,
    make_group,
    manage,
    peak_memory_mb,
    platform_env,
    process_tree,
    psql,
    redis_flush,
)

DATABASE = os.environ.get("BENCH_DATABASE", "smsplatform_bench_campaign")
PORT = int(os.environ.get("BENCH_PORT", "8933"))
SMSC_PORT, SMSC_CONTROL_PORT = 12800, 12801
RECEIPT_DELAY = 0.1  # seconds after each submit: the receipts are part of the measure, not the SMSC's wait
# The campaign's page counts its messages by status (60 ms of PostgreSQL at 100,000): polled every 0.1 s it took a
# sixth of the database's time. Once completed, whether any message still waits for its receipt is read instead.
POLL_SECONDS = 0.5


def smsc_stats() -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{SMSC_CONTROL_PORT}/stats", timeout=5) as response:
        return json.loads(response.read())


def database_backends() -> list[int]:
    """PostgreSQL's backend processes serving the benchmark's database (their title names it)."""
    backends = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f" {DATABASE} ".encode() in (proc / "cmdline").read_bytes():
                backends.append(int(proc.name))
        except OSError:
            continue
    return backends


def cpu_by_process(processes: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each named group of processes (PostgreSQL's: its backends alive now)."""
    used = {}
    for name, pids in {**processes, "postgresql": database_backends()}.items():
        total = 0.0
        for pid in pids:
            try:
                total += cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        used[name] = total
    return used


def database_counters() -> tuple[int, ...]:
    """The cluster's WAL so far (records, full-page images, bytes), its checkpoints, and the transactions of the
    benchmark's database: the machine is otherwise idle, so their change over a run is the run's."""
    return tuple(
        int(value)
        for value in psql(
            "SELECT wal_records, wal_fpi, wal_bytes,"
            " (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),"
            f" (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{DATABASE}') FROM pg_stat_wal"
        ).split("|")
    )


def run_campaign(key: str, account_id: str, size: int, offset: int, processes: dict[str, list[int]]) -> dict:
    group_id = make_group(DATABASE, account_id, size, offset)
    campaign = api(
        PORT,
        key,
        "POST",
        "/api/v1/campaigns/",
        {"name": f"Bench {size}", "message": "Hi {name}, your order is ready.", "sender_name": "Bench",
         "group_id": group_id},
    )  # fmt: skip
    path = f"/api/v1/campaigns/{campaign['id']}/"
    submitted_before = smsc_stats()["submit_sm"]
    cpu_before, counters_before = cpu_by_process(processes), database_counters()
    started = time.monotonic()
    api(PORT, key, "POST", f"{path}send/")
    sent_request = time.monotonic() - started
    prepared = None
    while (state := api(PORT, key, "GET", path))["status"] == "sending":
        if prepared is None and not state["preparation"]["preparing"]:
            prepared = time.monotonic() - started
        time.sleep(POLL_SECONDS)
    completed = time.monotonic() - started
    sent = f"FROM messaging_message WHERE campaign_id = '{campaign['id']}' AND status = 'sent'"
    while psql(f"SELECT EXISTS (SELECT {sent})", DATABASE) == "t" and time.monotonic() - started < 1800:
        time.sleep(0.1)
    all_delivered = time.monotonic() - started
    state = api(PORT, key, "GET", path)
    cpu_after, counters_after = cpu_by_process(processes), database_counters()
    records, full_pages, wal_bytes, checkpoints, transactions = (
        after - before for after, before in zip(counters_after, counters_before, strict=True)
    )
    submitted = smsc_stats()["submit_sm"] - submitted_before
    by_status = dict(
        line.split("|")
        for line in psql(
            f"SELECT status, count(*) FROM messaging_message WHERE campaign_id = '{campaign['id']}' GROUP BY status",
            DATABASE,
        ).splitlines()
    )
    parts, contacts = psql(
        "SELECT (SELECT count(*) FROM messaging_messagepart p JOIN messaging_message m ON m.id = p.message_id"
        f" WHERE m.campaign_id = '{campaign['id']}' AND p.status = 'delivered'),"
        f" (SELECT count(DISTINCT contact_id) FROM messaging_message WHERE campaign_id = '{campaign['id']}')",
        DATABASE,
    ).split("|")
    return {
        "recipients": size,
        "status": state["status"],
        "stats": state["stats"],
        "send_request_seconds": round(sent_request, 3),
        "send_to_prepared_seconds": round(completed if prepared is None else prepared, 2),
        "send_to_completed_seconds": round(completed, 2),
        "send_to_every_receipt_recorded_seconds": round(all_delivered, 2),
        "messages_per_second": round(size / all_delivered, 1),
        "cpu_seconds": {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after},
        # PostgreSQL's write-ahead log of the run: what the schema makes each message cost in writes; a checkpoint
        # (every max_wal_size/2 or so) makes the next change of each page log the whole page.
        "wal": {
            "mb": round(wal_bytes / 1e6, 1),
            "bytes_per_message": round(wal_bytes / size),
            "records_per_message": round(records / size, 1),
            "full_page_images": full_pages,
            "checkpoints": checkpoints,
        },
        # Each statement of the bind process and the worker is a transaction of its own: fewer a message, larger
        # batches (the benchmark's polling adds a few hundred).
        "transactions_per_message": round(transactions / size, 3),
        "peak_rss_mb": {
            "worker": list(peak_memory_mb(processes["worker"]).values()),
            "smppd": peak_memory_mb(processes["smppd"])[processes["smppd"][0]],
            "fakesmsc": peak_memory_mb(processes["fakesmsc"])[processes["fakesmsc"][0]],
        },
        "delivered_exactly_once": {
            "messages_by_status": {status: int(count) for status, count in by_status.items()},
            "every_message_delivered": by_status == {"delivered": str(size)},
            "one_message_per_contact": int(contacts) == size,
            "delivered_parts": int(parts),
            "submit_sm": submitted,
            "sent_twice": submitted - size,
        },
    }


def main() -> dict:
    sizes = [int(size) for size in os.environ.get("BENCH_CAMPAIGN_SIZES", "10000,100000").split(",")]
    concurrency = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
    binds, window = int(os.environ.get("BENCH_SMPP_BINDS", "1")), int(os.environ.get("BENCH_SMPP_WINDOW", "100"))
    gateway = {
        "BACKEND": "gateways.backends.smpp.SmppGateway",
        "OPTIONS": {"host": "127.0.0.1", "port": SMSC_PORT, "system_id": "bench", "password": "bench",
                    "binds": binds, "window": window, "tps": 0, "message_id_format": "hex",
                    "receipt_id_format": "hex"},
    }  # fmt: skip
    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s", SMS_GATEWAYS=json.dumps({"default": gateway}))
    manage(env, "migrate", "--no-input")
    credits = sum(sizes) * 2
    key = manage(env, "createaccount", "Bench", "--credits", str(credits), "--sender", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    settings = "from django.conf import settings as s; print(s.CAMPAIGN_BATCH_SIZE, s.CAMPAIGN_PARALLEL_BATCHES)"
    batch_size, parallel = manage(env, "shell", "-c", settings).split()[-2:]
    batching = {"batch_size": int(batch_size), "parallel_batches": int(parallel)}
    smsc = [PYTHON, "manage.py", "fakesmsc", "--port", str(SMSC_PORT), "--control-port", str(SMSC_CONTROL_PORT),
            "--receipt-delay", str(RECEIPT_DELAY), "--keep-messages", "0"]  # fmt: skip
    worker = [PYTHON, "-m", "celery", "-A", "smsplatform", "worker", "--concurrency", str(concurrency),
              "--loglevel", "WARNING"]  # fmt: skip
    with (
        background(smsc, env, name="fakesmsc") as fakesmsc,
        background([PYTHON, "manage.py", "smppd"], env, name="smppd") as smppd,
        background(worker, env, name="worker") as celery,
        gunicorn(env, port=PORT, workers=2, timeout=600) as web,
    ):
        deadline = time.monotonic() + 60
        while not api(PORT, key, "GET", "/api/v1/health/")["gateways"]["default"]["available"]:
            if time.monotonic() > deadline:
                raise TimeoutError("The bind process did not bind.")
            time.sleep(0.2)
        while len(process_tree(celery.pid)) < concurrency + 1:  # the pool's processes are up
            time.sleep(0.2)
        reference = health_rate(PORT)
        processes = {
            "worker": process_tree(celery.pid),
            "smppd": [smppd.pid],
            "fakesmsc": [fakesmsc.pid],
            "web": process_tree(web.pid),
        }
        runs = [
            run_campaign(key, account_id, size, offset=index * 1_000_000, processes=processes)
            for index, size in enumerate(sizes)
        ]
    balance, ledger = balance_and_ledger(DATABASE)
    return {
        "benchmark": "campaign_smpp",
        "worker": {"processes": concurrency, **batching},
        "smpp": {"binds": binds, "window": window, "tps": 0, "receipt_delay_seconds": RECEIPT_DELAY},
        "fake_smsc": "manage.py fakesmsc on loopback, another process",
        "runs": runs,
        "consistency": {
            "balance": balance,
            "ledger_sum": ledger,
            "balance_equals_ledger": balance == ledger,
            "balance_equals_credits_minus_messages": balance == credits - sum(sizes),
        },
        "reference": reference,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
