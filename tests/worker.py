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
from kombu import Connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def on_real_broker() -> bool:
    """Whether the test process publishes to a real broker (the `real_broker` fixture), not to the in-memory one."""
    return settings.CELERY_BROKER_URL != "memory://"


def real_broker_url() -> str:
    """The broker of the workers and bind processes this test starts: the one the `real_broker` fixture moved the
    test process to, else the platform's for the session's REDIS_URL."""
    return settings.CELERY_BROKER_URL if on_real_broker() else settings.REAL_CELERY_BROKER_URL


def broker_environment() -> dict:
    """What tells a worker or bind process its broker: the test process's when it asked for `real_broker`, else
    nothing (the platform's broker for the REDIS_URL it is given, a private redis-server's too)."""
    return {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL} if on_real_broker() else {}


def broker_flush() -> None:
    """Lose everything the real broker holds, as a Redis restart without persistence would (a private
    redis-server is stopped instead)."""
    redis.Redis.from_url(real_broker_url()).flushdb()


def broker_drain() -> list[tuple[str, list]]:
    """Take every task waiting on the real broker (for a worker that a test would start, or left by the bind
    process); returns their names and arguments, oldest first."""
    tasks = []
    with Connection(real_broker_url()) as connection, connection.SimpleQueue("celery", no_ack=True) as queue:
        while True:
            try:
                message = queue.get_nowait()
            except queue.Empty:
                return tasks
            args, _kwargs, _embed = message.decode()
            tasks.append((message.headers["task"], args))


@contextmanager
def celery_worker(tmp_path: Path, *, beat: bool = False, concurrency: int = 1, gateway_options: dict | None = None,
                  **environment):  # fmt: skip
    """Start `celery worker` (with embedded beat if asked) and stop it on exit; yields the Popen.

    It takes its tasks from the platform's broker on settings.REDIS_URL: a test that publishes tasks for it from the
    test process, whose broker is in memory, asks for the `real_broker` fixture."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        VAR_DIR=str(tmp_path),
        **broker_environment(),
        **{key: str(value) for key, value in environment.items()},
    )
    if gateway_options is not None:
        env["SMS_GATEWAYS"] = json.dumps(
            {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": gateway_options}}
        )
    command = [sys.executable, "-m", "celery", "-A", "smsplatform", "worker", "--loglevel", "INFO",
               "--concurrency", str(concurrency), "--hostname", f"test-{os.getpid()}@%h"]  # fmt: skip
    if beat:
        command.append("--beat")
    with process_running(command, env=env, log_path=tmp_path / "worker.log") as process:
        yield process


@contextmanager
def process_running(command: list[str], *, env: dict, log_path: Path):
    """A platform process (a worker, the bind process) for the length of the block, its output in `log_path`;
    SIGTERM at the end, SIGKILL if it does not stop within 20 s. Yields the Popen, with `log_path` on it.

    It loads tests.settings with the platform's Celery broker, not the test process's in-memory one."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    env = {**env, "TEST_CELERY_BROKER": "redis"}
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
