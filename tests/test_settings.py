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


def load_settings(**environment) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DEBUG")}
    env.update(environment, DJANGO_SETTINGS_MODULE="smsplatform.settings")
    return subprocess.run([sys.executable, "-c", SHOW_BACKENDS], cwd=ROOT, env=env, capture_output=True, text=True)


def test_refuses_to_start_with_debug_off_and_no_secret_key():
    result = load_settings(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


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
        "django.db.backends.postgresql",
        "redis://cache:6379/0",
        "smsplatform.cache.RedisCache",
    ]
