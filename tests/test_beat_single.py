"""Two real beats on one Redis: only the lock's holder sends the schedule; the standby takes over when it goes."""

import signal
import socket
import time

import redis

from smsplatform.beat import beat_heartbeat_key
from tests.beat import beat_running
from tests.redis_server import private_redis
from tests.worker import process_kill, wait_until

SENT = "Sending due task messages-sweep"


def sent(beat) -> int:
    return beat.log_path.read_text().count(SENT)


def test_a_second_beat_stands_by_and_takes_over_when_the_first_is_killed(tmp_path):
    with (
        private_redis(tmp_path / "redis") as server,
        beat_running(tmp_path, "first", server.url(), lock_ttl=4) as first,
    ):
        wait_until(lambda: sent(first), log=first.log_path)
        with beat_running(tmp_path, "second", server.url(), lock_ttl=4) as second:
            wait_until(lambda: "standing by" in second.log_path.read_text(), log=second.log_path)
            time.sleep(4)  # eight sweep intervals

            assert sent(second) == 0
            assert sent(first) >= 8
            assert redis.Redis.from_url(server.url()).get(beat_heartbeat_key(socket.gethostname())) is not None

            process_kill(first)  # no goodbye: the standby waits for the lock to expire
            wait_until(lambda: sent(second), timeout=12, log=second.log_path)


def test_a_standby_takes_over_at_once_when_the_holder_stops_cleanly(tmp_path):
    # The holder renews its 9 s lock every 3 s: had it not released the lock, it would expire 6 s or more after.
    with (
        private_redis(tmp_path / "redis") as server,
        beat_running(tmp_path, "first", server.url(), lock_ttl=9) as first,
    ):
        wait_until(lambda: sent(first), log=first.log_path)
        with beat_running(tmp_path, "second", server.url(), lock_ttl=9) as second:
            wait_until(lambda: "standing by" in second.log_path.read_text(), log=second.log_path)
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=20)

            wait_until(lambda: sent(second), timeout=5, log=second.log_path)
