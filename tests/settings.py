"""The settings under test: the real ones, with a key and cheap password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from smsplatform.settings import *  # noqa: F403
from smsplatform.settings import VAR_DIR

if not os.environ.get("REDIS_URL"):
    # Without Redis the tests use a private cache, not the file cache `make run` shares.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    (VAR_DIR / "test-broker").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "test-broker"),
        "data_folder_out": str(VAR_DIR / "test-broker"),
        "control_folder": str(VAR_DIR / "test-broker" / "control"),
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if "SMS_GATEWAYS" not in os.environ:  # a worker started by a test may be given its own
    # No delivery reports unless a test asks for them: they would be queued on the broker for a worker.
    SMS_GATEWAYS = {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}}
