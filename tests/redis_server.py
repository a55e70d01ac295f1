"""A `redis-server` of the test's own, on its own loopback port, to stop and start for outage tests.

The machine's shared Redis is never touched: an outage is this private server going away.
"""

import shutil
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

import redis

from .worker import wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """One redis-server process at a time on a fixed port, without persistence: a restart loses everything,
    as a Redis without AOF does."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                   "--save", "", "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        log = open(self.directory / "redis.log", "a")  # noqa: SIM115 (the server writes it; closed with the process)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self.answers, timeout=10, interval=0.05)

    def stop(self) -> None:
        """Kill it (SIGKILL): connections drop mid-command, as in a crash or a network cut."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


@contextmanager
def private_redis(directory: Path):
    """A running private Redis for the block (stopped at the end whatever state the test left it in)."""
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
