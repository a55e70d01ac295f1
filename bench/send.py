"""Benchmark of POST /api/v1/sms/send/ under wrk: gunicorn, PostgreSQL, Redis, and each gateway in turn, beside
the peer, Jasmin, measured in the same run.

`jasmin`: the peer's own scripts (../shared/peers/jasmin: setup.sh, bench.sh, stop.sh) measure how fast Jasmin
accepts `GET /send` on this machine (it queues to RabbitMQ and answers; its SMSC gets the messages later).
`fake`: the in-process fake gateway. `smpp`: the SMPP gateway, each send handed to the bind process
(`manage.py smppd`) and answered `sent` once the fake SMSC (`manage.py fakesmsc`, another process on
loopback) accepted it. For each it prints requests per second, p50/p99 latency, errors, whether every
send was answered `sent`, whether the ledger and the messages match the sends that succeeded, the CPU each
process spent per send, and the ratio of its rate and p99 to Jasmin's; beside them, the health endpoint's
rate in the same run. Settings from the environment: BENCH_CONNECTIONS (32), BENCH_SECONDS (20),
BENCH_WEB_WORKERS (2), BENCH_WEB_THREADS (4; 1 for sync), BENCH_WORKER_CLASS (gthread, as gunicorn.conf.py),
BENCH_SEND_GATEWAYS (fake,smpp), BENCH_PEER (jasmin; empty for none).
"""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contextlib import ExitStack

from _harness import (
    PYTHON,
    REDIS_URL,
    ROOT,
    background,
    cpu_seconds,
    fresh_database,
    gunicorn,
    health_rate,
    manage,
    platform_env,
    process_tree,
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


PEER = ROOT.parent / "shared" / "peers" / "jasmin"


def main() -> dict:
    gateways = os.environ.get("BENCH_SEND_GATEWAYS", "fake,smpp").split(",")
    peer = jasmin() if os.environ.get("BENCH_PEER", "jasmin") == "jasmin" else None
    runs = [run(gateway) for gateway in gateways]
    if peer is not None and "http_rps" in peer:
        for result in runs:
            result["versus_jasmin"] = {
                "requests_per_second_ratio": round(result["requests_per_second"] / peer["http_rps"], 2),
                "p99_ms": {"ours": result["latency_ms"]["p99"], "jasmin": peer["p99_ms"]},
                "p99_at_most_jasmins": result["latency_ms"]["p99"] <= peer["p99_ms"],
            }
    return {"benchmark": "sms_send", "peer": peer, "runs": runs}


def jasmin() -> dict:
    """Jasmin's acceptance rate on this machine, by its own scripts: set up (installs what is missing the first
    time, about a minute), one wrk round as ours (2 threads, 32 connections, BENCH_SECONDS), stopped after, so that
    its backlog draining to its SMSC takes no CPU from our rounds. Only the acceptance is compared, so the drain is
    not waited for."""
    if not (PEER / "bench.sh").exists():
        return {"skipped": f"no peer at {PEER}"}
    seconds = os.environ.get("BENCH_SECONDS", "20")
    env = {**os.environ, "RUNS": "1", "WARMUP": "5", "DRAIN_MAX": "0", "DURATION": seconds}
    try:
        subprocess.run(["./setup.sh"], cwd=PEER, env=env, check=True, capture_output=True, text=True)
        output = subprocess.run(["./bench.sh"], cwd=PEER, env=env, check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as error:
        return {"skipped": f"{error.cmd[0]} failed: {error.stderr.strip()[-500:]}"}
    finally:
        subprocess.run(["./stop.sh"], cwd=PEER, capture_output=True)
    result = json.loads(output.strip().splitlines()[-1])
    keys = ("http_rps", "p50_ms", "p99_ms", "http_non2xx_total", "sock_errors_total", "jasmin_upstream_fix_a3635cc1")
    return {"name": "Jasmin 0.11.1 GET /send", **{key: result[key] for key in keys if key in result}}


def run(gateway: str) -> dict:
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
    worker_class = os.environ.get("BENCH_WORKER_CLASS", "gthread")
    threads = int(os.environ.get("BENCH_WEB_THREADS", "1" if worker_class == "sync" else "4"))
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
        processes = {}
        if gateway == "smpp":  # receipts off: they are the SMSC's business, after the answer
            smsc = [PYTHON, "manage.py", "fakesmsc", "--port", str(SMSC_PORT), "--no-receipts", "--keep-messages", "0"]
            processes["fake SMSC"] = stack.enter_context(background(smsc, env, name="fakesmsc"))
            processes["bind process (smppd)"] = stack.enter_context(
                background([PYTHON, "manage.py", "smppd"], env, name="smppd")
            )
        processes["web (gunicorn)"] = stack.enter_context(
            gunicorn(env, port=PORT, workers=workers, worker_class=worker_class, threads=threads)
        )
        reference = health_rate(PORT)
        # A short warm-up: connections opened, code paths imported and cached.
        subprocess.run(
            [wrk, "-t2", "-c8", "-d2s", "-s", "send.lua", f"http://127.0.0.1:{PORT}"],
            cwd=Path(__file__).parent, env={**os.environ, "BENCH_API_KEY": api_key}, capture_output=True, check=True,
        )  # fmt: skip
        warmup_sent = int(psql("SELECT count(*) FROM messaging_message", DATABASE))
        cpu_before, wrk_before = cpu_by_process(processes), resource.getrusage(resource.RUSAGE_CHILDREN)
        output = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", "send.lua",
             f"http://127.0.0.1:{PORT}"],
            cwd=Path(__file__).parent, env={**os.environ, "BENCH_API_KEY": api_key}, capture_output=True, text=True,
            check=True,
        ).stdout  # fmt: skip
        cpu_after, wrk_after = cpu_by_process(processes), resource.getrusage(resource.RUSAGE_CHILDREN)
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
        "web": {"server": "gunicorn", "worker_class": worker_class, "workers": workers, "threads": threads},
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
        "cpu_us_per_send": {
            **{name: round((cpu_after[name] - cpu_before.get(name, 0)) / run["created"] * 1e6) for name in cpu_after},
            "wrk": round(
                (wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime)
                / run["created"]
                * 1e6
            ),
        },
        "reference": reference,
    }


def cpu_by_process(processes: dict) -> dict:
    """CPU seconds so far of each of our processes (with their children), of PostgreSQL's backends serving the
    benchmark's database, and of Redis."""
    seconds = {name: sum(cpu_seconds(pid) for pid in process_tree(process.pid)) for name, process in processes.items()}
    backends = psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()")
    seconds["PostgreSQL backends"] = sum(cpu_seconds(int(pid)) for pid in backends.split())
    redis_pid = (
        subprocess.run(["redis-cli", "-u", REDIS_URL, "info", "server"], capture_output=True, text=True, check=True)
        .stdout.split("process_id:")[1]
        .split()[0]
    )
    seconds["Redis"] = cpu_seconds(int(redis_pid))
    return seconds


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
