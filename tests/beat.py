"""A real `celery beat` process, on a Redis of the test's choosing."""

import os
import sys
from pathlib import Path

from .worker import process_running


def beat_running(tmp_path: Path, name: str, redis_url: str, *, lock_ttl: int):
    """`celery beat` for the block, with BEAT_LOCK_TTL=lock_ttl and messages_sweep due every half second; its
    output in tmp_path/<name>.log. Yields the Popen."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        REDIS_URL=redis_url,
        VAR_DIR=str(tmp_path),
        BEAT_LOCK_TTL=str(lock_ttl),
        SMS_SWEEP_INTERVAL="0.5",
    )
    env.pop("CELERY_BROKER_URL", None)
    command = [sys.executable, "-m", "celery", "-A", "smsplatform", "beat", "--loglevel", "INFO"]
    return process_running(command, env=env, log_path=tmp_path / f"{name}.log")
