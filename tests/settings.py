"""The settings under test: the real ones, with a key, cheap password hashing, a VAR_DIR of their own and an
in-memory Celery broker."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# Not a worker or bind process that a test started (tests/worker.py: process_running).
IN_TEST_PROCESS = os.environ.get("TEST_CELERY_BROKER") != "redis"
if IN_TEST_PROCESS:
    # Celery prefers this variable to any setting: the tests' brokers follow REDIS_URL alone.
    os.environ.pop("CELERY_BROKER_URL", None)
if "VAR_DIR" not in os.environ:  # a worker or bind process started by a test is given the test's tmp_path
    # Set before the real settings are read, as they create folders there: tests never write to `make run`'s var/.
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="smsplatform-tests-")
    atexit.register(shutil.rmtree, os.environ["VAR_DIR"], ignore_errors=True)

from smsplatform.settings import *  # noqa: E402, F403
from smsplatform.settings import CELERY_BROKER_URL, DATABASES, REDIS_URL, VAR_DIR  # noqa: E402

if not REDIS_URL:
    # Without Redis the tests use a private cache, not the file cache `make run` shares.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, as `make run` has, not Django's default shared in-memory database: there concurrent writers fail
    # at once ("database table is locked") instead of queueing for the write lock as they do in production.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Celery tasks the test process publishes go to kombu's in-memory broker: nothing is left in Redis or var/ for
# a worker that never comes, and the `enqueued` fixture shows a test what it queued. A process started by a test
# (tests/worker.py: process_running) gets TEST_CELERY_BROKER=redis and the platform's broker; a test that
# publishes to a worker from here asks for the `real_broker` fixture, which moves it to this one.
REAL_CELERY_BROKER_URL = CELERY_BROKER_URL
if IN_TEST_PROCESS:
    CELERY_BROKER_URL = "memory://"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite makes hundreds of requests without a valid key, all from 127.0.0.1 and within a minute; the tests
# of that limit set their own.
API_ANON_RATE_LIMIT = "1000000/m"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if "SMS_GATEWAYS" not in os.environ:  # a worker started by a test may be given its own
    # No delivery reports unless a test asks for them.
    SMS_GATEWAYS = {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}}

# Webhooks go to loopback servers started by the tests; the tests of the address checks turn this off.
WEBHOOK_ALLOW_PRIVATE = True
