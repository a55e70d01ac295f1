"""Helpers shared by the benchmarks: a fresh PostgreSQL database and the platform under gunicorn."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# BENCH_PG_PORT: another server, e.g. a private one with pg_stat_statements loaded for a profile.
PG = {"host": "127.0.0.1", "port": os.environ.get("BENCH_PG_PORT", "5432"), "user": "postgres"}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")


def platform_env(database: str, **overrides) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
        REDIS_URL=REDIS_URL,
        SECRET_KEY="benchmark-only-secret-key",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        # Delivery reports are the SMSC's business, arriving on their own: none in the request path.
        SMS_GATEWAYS=json.dumps(
            {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}}
        ),
    )
    env.update(overrides)
    return env


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-qAt", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", database, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def balance_and_ledger(database: str, account: str = "Bench") -> tuple[int, int]:
    """The account's balance and the sum of its ledger entries, which must be equal."""
    balance, ledger = psql(
        "SELECT a.sms_credits, (SELECT sum(amount) FROM billing_transaction t WHERE t.account_id = a.id)"
        f" FROM accounts_account a WHERE name = '{account}'",
        database,
    ).split("|")
    return int(balance), int(ledger)


def fresh_database(name: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def redis_flush() -> None:
    """Empty the cache's database and the broker's, the next one (smsplatform.settings: CELERY_BROKER_URL)."""
    cache_db = int(REDIS_URL.rsplit("/", 1)[1])
    for db in (cache_db, cache_db + 1):
        subprocess.run(["redis-cli", "-u", REDIS_URL, "-n", str(db), "flushdb"], check=True, capture_output=True)


@contextmanager
def gunicorn(
    env: dict, *, port: int, workers: int, timeout: int | None = None, worker_class: str = "sync", threads: int = 1
):
    """The platform's web processes under gunicorn, without an access log; sync workers unless told otherwise
    (gunicorn.conf.py, which production uses, says gthread: bench/send.py measures both).

    `timeout`: seconds before gunicorn kills a worker busy with one request (its default is 30).
    """
    command = [
        PYTHON, "-m", "gunicorn", "smsplatform.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
        "--access-logfile", "/dev/null", "--backlog", "2048", "--log-level", "warning",
    ]  # fmt: skip
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not come up") from None
                time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def require(tool: str, package: str | None = None) -> str:
    """The path of a command-line tool, installed from Debian's packages when missing (we are root here)."""
    path = shutil.which(tool)
    if path is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", package or tool], check=True, capture_output=True)
        path = shutil.which(tool)
    return path


def api(port: int, key: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-API-KEY": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def make_group(database: str, account_id: str, size: int, offset: int = 0) -> str:
    """A group of `size` new contacts, made in SQL: the benchmark is the campaign, not the import."""
    group_id = psql(
        "INSERT INTO contacts_group (id, account_id, name, description, created_at)"
        f" VALUES (gen_random_uuid(), '{account_id}', 'Bench {size} from {offset}', '', now()) RETURNING id",
        database,
    ).splitlines()[0]
    psql(
        "WITH new AS (INSERT INTO contacts_contact"
        " (id, account_id, phone, first_name, last_name, opted_out, created_at, updated_at)"
        f" SELECT gen_random_uuid(), '{account_id}', '+26377' || lpad((n + {offset})::text, 7, '0'),"
        " 'Name' || n, 'Bench', false, now(), now() FROM generate_series(1, "
        f"{size}) AS n RETURNING id)"
        f" INSERT INTO contacts_contact_groups (contact_id, group_id) SELECT id, '{group_id}' FROM new",
        database,
    )
    # As the import does after a bulk load (contacts.importing._refresh_statistics): planned with statistics
    # that still count a few hundred members, a campaign's chunks read the whole group each.
    psql("ANALYZE contacts_contact, contacts_contact_groups", database)
    return group_id


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return [pid, *[grandchild for child in found for grandchild in process_tree(child)]]


def peak_memory_mb(pids: list[int]) -> dict:
    """Peak resident memory (VmHWM) of each process, in MB."""
    peaks = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        peaks[pid] = round(kilobytes / 1024, 1)
    return peaks


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health_rate(port: int, *, seconds: int = 5) -> dict:
    """GET /api/v1/health/ under wrk (2 threads, 32 connections): the reference measured beside a figure, in
    the same run, since machines differ by several times on every figure."""
    output = subprocess.run(
        [require("wrk"), "-t2", "-c32", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/api/v1/health/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec")))
    return {"endpoint": "GET /api/v1/health/", "requests_per_second": round(rate, 1), "wrk": "-t2 -c32"}


@contextmanager
def background(command: list[str], env: dict, *, name: str):
    """A process of the platform (worker, bind process, fake SMSC) for the length of a benchmark."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in 30 s; killed", file=sys.stderr)
            process.kill()
