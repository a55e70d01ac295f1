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
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
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
        **overrides,
    )
    return env


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-qAt", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", database, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_database(name: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def redis_flush() -> None:
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)


@contextmanager
def gunicorn(env: dict, *, port: int, workers: int, timeout: int | None = None):
    """The platform's web processes as production runs them: gunicorn with sync workers.

    `timeout`: seconds before gunicorn kills a worker busy with one request (its default is 30).
    """
    command = [
        PYTHON, "-m", "gunicorn", "smsplatform.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--backlog", "2048", "--log-level", "warning",
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
