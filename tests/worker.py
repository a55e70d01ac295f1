"""A real Celery worker process, on the test database and the real Redis broker."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def broker_flush() -> None:
    """Lose everything the broker holds, as a Redis restart without persistence would."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@contextmanager
def celery_worker(tmp_path: Path, *, beat: bool = False, concurrency: int = 1, gateway_options: dict | None = None,
                  **environment):  # fmt: skip
    """Start `celery worker` (with embedded beat if asked) and stop it on exit; yields the Popen."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        VAR_DIR=str(tmp_path),
        **{key: str(value) for key, value in environment.items()},
    )
    if gateway_options is not None:
        env["SMS_GATEWAYS"] = json.dumps(
            {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": gateway_options}}
        )
    command = [sys.executable, "-m", "celery", "-A", "smsplatform", "worker", "--loglevel", "INFO",
               "--concurrency", str(concurrency), "--hostname", f"test-{os.getpid()}@%h"]  # fmt: skip
    if beat:
        command += ["--beat", "--schedule", str(tmp_path / "beat-schedule")]
    with process_running(command, env=env, log_path=tmp_path / "worker.log") as process:
        yield process


@contextmanager
def process_running(command: list[str], *, env: dict, log_path: Path):
    """A platform process (a worker, the bind process) for the length of the block, its output in `log_path`;
    SIGTERM at the end, SIGKILL if it does not stop within 20 s. Yields the Popen, with `log_path` on it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    # Its own process group: `process_kill` takes a worker's pool processes down with it.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process_kill(process)
        log.close()


def process_kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and its children at once, as a crashed machine or the OOM killer would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until(condition, *, timeout: float = 30, interval: float = 0.2, log: Path | None = None):
    """Poll `condition()` until it is truthy; fail with the worker's log after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"Condition not met within {timeout} s.\n{tail}")
