"""The test process keeps to itself: its files in a temporary VAR_DIR, its Celery tasks on an in-memory broker
emptied after each test, the real Redis broker only for a test that asks for it."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from kombu.transport import memory

from smsplatform.celery import app

ROOT = Path(__file__).resolve().parent.parent

SHOW_VAR_DIR = """
import django; django.setup()
from django.conf import settings
print(settings.VAR_DIR, settings.CELERY_BROKER_URL, sorted(path.name for path in settings.VAR_DIR.iterdir()))
"""


def test_the_test_settings_keep_var_files_in_a_directory_of_their_own_removed_at_exit():
    environment = {key: value for key, value in os.environ.items() if key not in ("VAR_DIR", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", SHOW_VAR_DIR],
        cwd=ROOT,
        env=environment | {"DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    var_dir, broker, files = result.stdout.strip().split(maxsplit=2)
    assert not Path(var_dir).is_relative_to(ROOT)
    assert broker == "memory://"
    assert files == "['broker']"  # what the embedded settings make for `make run`, here in the tests' own
    assert not Path(var_dir).exists()


@pytest.mark.redis
def test_real_broker_publishes_to_redis(real_broker):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.REAL_CELERY_BROKER_URL)

    app.send_task("messaging.tasks.message_retry", args=["probe"], queue=queue)

    try:
        assert client.llen(queue) == 1
        assert not memory.Channel.queues
    finally:
        client.delete(queue)


@pytest.mark.parametrize("run", ["first", "second"])
def test_tasks_go_to_the_in_memory_broker_emptied_after_each_test(run, enqueued):
    assert not any(queue.qsize() for queue in memory.Channel.queues.values())  # nothing of the first run

    app.send_task("messaging.tasks.message_retry", args=[run], countdown=10)
    app.send_task("messaging.tasks.messages_sweep")

    assert memory.Channel.queues["celery"].qsize() == 2
    assert [(task.name, task.args, task.kwargs) for task in enqueued] == [
        ("messaging.tasks.message_retry", [run], {}),
        ("messaging.tasks.messages_sweep", [], {}),
    ]
    assert enqueued[0].countdown == pytest.approx(10, abs=1)
    assert enqueued[1].countdown is None
