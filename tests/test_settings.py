import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


SHOW_BACKENDS = """
import django; django.setup()
from django.conf import settings
print(settings.DATABASES["default"]["ENGINE"], settings.CELERY_BROKER_URL, settings.CACHES["default"]["BACKEND"])
"""


SHOW_SECRET_KEY = """
import django; django.setup()
from django.conf import settings
print(settings.SECRET_KEY)
"""


def load_settings(script: str = SHOW_BACKENDS, **environment) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DEBUG", "CELERY_BROKER_URL")}
    env.update(environment, DJANGO_SETTINGS_MODULE="smsplatform.settings")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_refuses_to_start_with_debug_off_and_no_secret_key():
    result = load_settings(DEBUG="false", DATABASE_URL="postgres://u@db:5432/sms")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off and DATABASE_URL is set (production)." in result.stderr


def test_the_embedded_mode_makes_its_own_key_once_readable_by_its_owner_only(tmp_path):
    first = load_settings(SHOW_SECRET_KEY, DEBUG="false", DATABASE_URL="", REDIS_URL="", VAR_DIR=str(tmp_path))
    second = load_settings(SHOW_SECRET_KEY, DEBUG="false", DATABASE_URL="", REDIS_URL="", VAR_DIR=str(tmp_path))

    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert first.stdout.strip() == second.stdout.strip() == key
    assert len(key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_starts_with_debug_off_and_a_secret_key():
    assert load_settings(DEBUG="false", SECRET_KEY="x" * 50).returncode == 0


def test_starts_embedded_with_debug_on_and_nothing_else(tmp_path):
    result = load_settings(DEBUG="true", DATABASE_URL="", REDIS_URL="", VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.cache.backends.filebased.FileBasedCache",
    ]


def test_database_url_and_redis_url_switch_to_postgresql_and_redis():
    result = load_settings(DEBUG="true", DATABASE_URL="postgres://u@db:5432/sms", REDIS_URL="redis://cache:6379/0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "smsplatform.postgresql",
        "redis://cache:6379/1",  # the broker in the database after the cache's
        "smsplatform.cache.RedisCache",
    ]


def test_the_broker_may_be_given_its_own_url():
    result = load_settings(
        DEBUG="true", REDIS_URL="redis://cache:6379/4", CELERY_BROKER_URL="redis://broker.example:6380/0"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1] == "redis://broker.example:6380/0"
