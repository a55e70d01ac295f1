"""`make run` (bin/run) for real: a process that dies is started again while the web keeps answering, Ctrl-C or
SIGTERM stops every process, and beat runs whatever folders exist."""

import os
import re
import signal
import subprocess
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest

from tests.redis_server import free_port, private_redis
from tests.worker import test_database_url as the_test_database_url
from tests.worker import wait_until

ROOT = Path(__file__).resolve().parent.parent
# What the platform reads from the environment; bin/run is given only what a test sets.
PLATFORM_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")


@contextmanager
def make_run(tmp_path: Path, **environment):
    """bin/run in its own session, its output in tmp_path/run.log; yields the Popen, with `port` and `log_path`."""
    env = {key: value for key, value in os.environ.items() if key not in PLATFORM_VARIABLES}
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(free_port()), WEB_CONCURRENCY="1", WORKER_CONCURRENCY="1")
    env.update(environment)
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [ROOT / "bin" / "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    process.port, process.log_path = int(env["PORT"]), log_path
    try:
        wait_until(lambda: health(process.port) == 200, timeout=90, interval=0.5, log=log_path)
        yield process
    finally:
        if process.poll() is None:
            # Each supervised process has a process group of its own: take them all down if bin/run cannot.
            everything = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for leftover in everything:
                    with suppress(psutil.NoSuchProcess):
                        leftover.kill()
                process.wait()


def health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=5) as response:
            return response.status
    except OSError:
        return None


def supervised(run: subprocess.Popen, command: str) -> psutil.Process | None:
    """The process bin/run started for the Celery `command` ("worker" or "beat"): its supervisor's child."""
    for process in psutil.Process(run.pid).children(recursive=True):
        try:
            if command in process.cmdline() and process.parent().name() == "bash":
                return process
        except psutil.NoSuchProcess:
            continue
    return None


def ctrl_c(run: subprocess.Popen) -> None:
    """What a terminal does: SIGINT to its foreground process group, bin/run's (the test made it a leader)."""
    os.killpg(run.pid, signal.SIGINT)


@pytest.mark.parametrize("stop", [ctrl_c, subprocess.Popen.terminate], ids=["ctrl-c", "sigterm"])
def test_a_killed_worker_is_started_again_and_ctrl_c_or_sigterm_stops_everything(tmp_path, stop):
    with make_run(tmp_path, DEBUG="false") as run:
        worker = wait_until(lambda: supervised(run, "worker"), log=run.log_path)

        worker.kill()

        restarted = wait_until(
            lambda: (process := supervised(run, "worker")) and process.pid != worker.pid and process,
            log=run.log_path,
        )
        assert f"bin/run: worker (pid {worker.pid}) exited with status 137; restarting it in 1 s" in (
            run.log_path.read_text()
        )
        assert health(run.port) == 200
        assert restarted.is_running()
        assert supervised(run, "beat") is not None
        everything = psutil.Process(run.pid).children(recursive=True)

        stop(run)
        run.wait(timeout=30)

        _gone, alive = psutil.wait_procs(everything, timeout=10)
        assert alive == []
        assert health(run.port) is None
        assert run.log_path.read_text().count("restarting it") == 1  # stopping is not taken for a crash


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_beat_sends_its_schedule_with_the_demo_key_outside_var(tmp_path):
    # With PostgreSQL and Redis and a SECRET_KEY, nothing but beat's schedule file is kept in VAR_DIR: nobody else
    # makes the folder when the demo key lives elsewhere, and beat could not start.
    with (
        private_redis(tmp_path / "redis") as redis_server,
        make_run(
            tmp_path,
            DATABASE_URL=the_test_database_url(),
            REDIS_URL=redis_server.url(),
            SECRET_KEY="make-run-test-" + "k" * 50,
            DEMO_API_KEY_FILE=str(tmp_path / "elsewhere" / "demo_api_key"),
            CAMPAIGN_SWEEP_INTERVAL="1",
        ) as run,
    ):
        wait_until(lambda: "Sending due task campaigns-sweep" in run.log_path.read_text(), log=run.log_path)

        assert (tmp_path / "elsewhere" / "demo_api_key").exists()
        assert not re.search(r"bin/run: \w+ .* exited", run.log_path.read_text())
