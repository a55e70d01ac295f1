"""The bind process (`manage.py smppd`) as a real subprocess on the test database and Redis, and a fake SMSC
on loopback, for the end-to-end SMPP tests."""

import json
import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings

from gateways.smpp.fakesmsc import SmscConfig, run_in_thread
from gateways.smpp.handoff import bind_state_key

from .worker import broker_environment, process_running, test_database_url, wait_until


def smpp_gateway(port: int, **options) -> dict:
    """An SMS_GATEWAYS entry for an SMPP gateway bound to the fake SMSC on `port`."""
    return {
        "BACKEND": "gateways.backends.smpp.SmppGateway",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "system_id": "platform", "password": "secret",
                    "message_id_format": "hex", "receipt_id_format": "hex", **options},
    }  # fmt: skip


@contextmanager
def fake_smsc(**config):
    """A fake SMSC on a free loopback port, in a thread of the test process; receipts after 50 ms unless told."""
    with run_in_thread(
        SmscConfig(port=0, system_id="platform", password="secret", receipt_delay=0.05, **config)
    ) as smsc:
        yield smsc


def unique_alias() -> str:
    """A gateway alias of the test's own: its streams, leases and bind states cannot meet another test's."""
    return f"smsc{uuid.uuid4().hex[:8]}"


@contextmanager
def bind_process(tmp_path: Path, gateways: dict, *, instance: str = "", wait_bound: bool = True, **environment):
    """Start `manage.py smppd` with these SMS_GATEWAYS; yields the Popen once every bind is bound."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        VAR_DIR=str(tmp_path),
        **broker_environment(),
        SMS_GATEWAYS=json.dumps(gateways),
        SMS_DEFAULT_GATEWAY=next(iter(gateways)),
        **{key: str(value) for key, value in environment.items()},
    )
    command = [sys.executable, "manage.py", "smppd"] + (["--instance", instance] if instance else [])
    log_path = tmp_path / f"smppd-{instance or uuid.uuid4().hex[:6]}.log"
    with process_running(command, env=env, log_path=log_path) as process:
        if wait_bound:
            for alias, config in gateways.items():
                if config["BACKEND"].endswith("SmppGateway"):
                    wait_until(lambda alias=alias, config=config: all_bound(alias, config), timeout=30, log=log_path)
        yield process


def bind_states(alias: str, binds: int = 1) -> list[dict]:
    raw = redis.Redis.from_url(settings.REDIS_URL).mget([bind_state_key(alias, number) for number in range(binds)])
    return [json.loads(value) if value else {} for value in raw]


def all_bound(alias: str, config: dict) -> bool:
    return all(state.get("bound") for state in bind_states(alias, config["OPTIONS"].get("binds", 1)))


def redis_forget(alias: str) -> None:
    """Drop a test gateway's streams, leases and states."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"smpp:{alias}:*"))
    if keys:
        client.delete(*keys)
