"""docker-compose.yml, the production shape, tested without a Docker engine: its environment passes Django's deploy
checks, and the health checks its containers run answer as they should against the real processes."""

import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.beat import beat_running
from tests.redis_server import free_port, private_redis
from tests.worker import wait_until

ROOT = Path(__file__).resolve().parent.parent
# What an operator sets (in .env): compose refuses to start without the first two.
OPERATOR_ENVIRONMENT = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
    "ALLOWED_HOSTS": "sms.example.co.zw",
}
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<operator>[-?])(?P<argument>[^}]*))?\}")


def compose(environment: dict) -> dict:
    """docker-compose.yml as `docker compose config` reads it: ${NAME:-default} and ${NAME:?error} filled in."""

    def value(match: re.Match) -> str:
        if environment.get(match["name"]):
            return environment[match["name"]]
        if match["operator"] == "?":
            raise LookupError(f"{match['name']} is not set: {match['argument']}")
        return match["argument"] or ""

    def interpolate(node):
        if isinstance(node, str):
            return VARIABLE.sub(value, node).replace("$$", "$")
        if isinstance(node, dict):
            return {key: interpolate(item) for key, item in node.items()}
        if isinstance(node, list):
            return [interpolate(item) for item in node]
        return node

    return interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def services() -> dict:
    return compose(OPERATOR_ENVIRONMENT)["services"]


def app_environment(services: dict, **overrides) -> dict:
    """What a container of the image runs with: the service's environment, the image's settings module, this
    machine's PATH and HOME; none of the tests' own variables."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "DJANGO_SETTINGS_MODULE": "smsplatform.settings"}
    return env | services["web"]["environment"] | overrides


def probe(service: dict, **environment) -> subprocess.CompletedProcess:
    """Run the service's health check command (CMD form) here, as Docker would in its container."""
    kind, *command = service["healthcheck"]["test"]
    assert kind == "CMD"
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], env=environment, capture_output=True, text=True, timeout=30)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_compose_refuses_to_start_without_the_operators_secrets():
    for missing in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        with pytest.raises(LookupError, match=f"{missing} is not set"):
            compose({key: value for key, value in OPERATOR_ENVIRONMENT.items() if key != missing})


def test_postgres_credentials_come_from_the_environment(services):
    database = urlsplit(services["web"]["environment"]["DATABASE_URL"])
    postgres = services["postgres"]["environment"]

    assert database.password == postgres["POSTGRES_PASSWORD"] == OPERATOR_ENVIRONMENT["POSTGRES_PASSWORD"]
    assert (database.username, database.path) == (postgres["POSTGRES_USER"], "/" + postgres["POSTGRES_DB"])


def test_the_broker_and_the_cache_have_databases_of_their_own(services):
    environment = services["worker"]["environment"]

    assert urlsplit(environment["REDIS_URL"]).path != urlsplit(environment["CELERY_BROKER_URL"]).path


def test_every_long_running_service_has_a_health_check_and_waits_for_the_migrations(services):
    long_running = {name: service for name, service in services.items() if "profiles" not in service}
    one_shot = {name for name, service in long_running.items() if service.get("restart") == "no"}

    assert one_shot == {"migrate"}
    for name, service in long_running.items():
        if name not in one_shot:
            assert "healthcheck" in service, name
        if service.get("image") == "smsplatform:latest" and name not in one_shot:
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_the_production_environment_passes_the_deploy_checks(services, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=app_environment(services, VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_web_health_check_passes_behind_https_with_a_public_host_name(services, tmp_path):
    # The image's command and the compose environment, on the embedded database and broker of this machine.
    port = free_port()
    env = app_environment(services, PORT=str(port), WEB_CONCURRENCY="1", VAR_DIR=str(tmp_path))
    for service_url in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(service_url)
    check = services["web"]["healthcheck"]["test"]
    check = [part.replace("localhost:8000", f"127.0.0.1:{port}") for part in check]
    with open(tmp_path / "web.log", "w") as log:
        web = subprocess.Popen(
            [Path(sys.executable).parent / "gunicorn", "smsplatform.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        wait_until(lambda: listening(port), log=tmp_path / "web.log")

        result = probe({"healthcheck": {"test": check}}, **env)

        assert result.returncode == 0, result.stderr
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_the_beat_health_check_sees_a_running_beat(services, tmp_path):
    with private_redis(tmp_path / "redis") as server:
        env = {"PATH": os.environ["PATH"], "REDIS_URL": server.url(), "HOSTNAME": socket.gethostname()}
        assert probe(services["beat"], **env).returncode == 1

        with beat_running(tmp_path, "beat", server.url(), lock_ttl=30) as beat:
            wait_until(lambda: "sending the schedule" in beat.log_path.read_text(), log=beat.log_path)

            assert probe(services["beat"], **env).returncode == 0
