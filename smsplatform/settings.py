"""Settings, read once from the environment (twelve-factor).

With nothing set the platform runs embedded: SQLite, a filesystem broker, a
file cache and the fake gateway. DATABASE_URL and REDIS_URL switch it to
PostgreSQL and Redis, as production and CI run it.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded mode (SQLite file, broker folders, cache, demo key); git-ignored.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # A guessable key signs admin sessions and CSRF tokens: never in production.
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "billing",
    "messaging",
    "contacts",
    "campaigns",
    "gateways",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before URL resolution: /path and /path/ reach the same view, with no redirect.
    "smsplatform.api.middleware.OptionalTrailingSlashMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The API answers both forms itself; a redirect would turn a POST into a lost GET.
APPEND_SLASH = False

ROOT_URLCONF = "smsplatform.urls"
WSGI_APPLICATION = "smsplatform.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Reuse connections between requests: a new PostgreSQL connection costs milliseconds.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    # A reused connection is tested (SELECT 1) at the start of each request, so a database restart
    # costs no failed request; off saves that round trip on every request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # The web process and the worker write at once: WAL lets readers go on, and
                # IMMEDIATE takes the write lock up front instead of failing half-way.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "smsplatform.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Shared by the web process and the worker on one machine, unlike a per-process memory cache.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    # Kombu's filesystem transport: messages are files in one folder that the web process and
    # the worker share. It needs the folder to exist.
    (VAR_DIR / "broker").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
    }
if REDIS_URL:
    # A task a worker took (acks_late) and never finished is handed out again after this long:
    # longer than any task runs, and than a retry's countdown, or a task would run twice for nothing.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Late-acknowledged tasks are not hoarded by one worker process while others are idle.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "messages-sweep": {"task": "messaging.tasks.messages_sweep", "schedule": env.float("SMS_SWEEP_INTERVAL", 30.0)},
    "idempotency-keys-expire": {"task": "messaging.tasks.idempotency_keys_expire", "schedule": 3600.0},
    "receipts-sweep": {
        "task": "messaging.tasks.receipts_sweep",
        "schedule": env.float("SMS_RECEIPT_SWEEP_INTERVAL", 30.0),
    },
    "campaigns-sweep": {
        "task": "campaigns.tasks.campaigns_sweep",
        "schedule": env.float("CAMPAIGN_SWEEP_INTERVAL", 10.0),
    },
}

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["smsplatform.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["smsplatform.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "smsplatform.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # ISO 8601 in UTC, to the second, as API.md shows: 2026-11-24T14:16:30Z.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
}

# Requests per API key, as "<count>/<s|m|h|d>". A busy customer sends hundreds a second.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1000/s")
# Authenticated key lookups are cached this long; revocation takes effect at once regardless.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=300)
# "last_used_at" is written at most this often per key, never on every request.
API_KEY_LAST_USED_INTERVAL = env.int("API_KEY_LAST_USED_INTERVAL", default=60)
# Where `make run` keeps the demo account's API key (mode 0600): the server stores only its hash.
DEMO_API_KEY_FILE = Path(env.str("DEMO_API_KEY_FILE", default=str(VAR_DIR / "demo_api_key")))

# --- Sending ----------------------------------------------------------------------
# Gateways by alias, like CACHES: {"alias": {"BACKEND": dotted.path, "OPTIONS": {...}}}. JSON in the environment.
# An empty value is unset too: docker compose passes `${SMS_GATEWAYS:-}` through.
SMS_GATEWAYS = env.json("SMS_GATEWAYS", default="") or {
    "default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": 1.0}}
}
SMS_DEFAULT_GATEWAY = env.str("SMS_DEFAULT_GATEWAY", default="default")
# E.164 prefix → gateway aliases in order of preference (failover); the longest prefix wins. JSON in the environment.
SMS_ROUTES = env.json("SMS_ROUTES", default="") or {}
# A gateway failing this many times in a row (in one process) is skipped by every process for a while.
SMS_CIRCUIT_FAILURES = env.int("SMS_CIRCUIT_FAILURES", default=5)
SMS_CIRCUIT_OPEN_SECONDS = env.int("SMS_CIRCUIT_OPEN_SECONDS", default=30)
# How stale a process's copy of the open circuits may be: read on every send, so not asked every time.
SMS_CIRCUIT_REFRESH = env.float("SMS_CIRCUIT_REFRESH", default=1.0)
# A message handed to the bind process is its own for this long: nobody else submits it meanwhile. Long enough
# for a backlog at a gateway's TPS; should Redis lose the hand-off, the sweeper submits it again after this.
SMS_HANDOFF_LEASE = env.int("SMS_HANDOFF_LEASE", default=300)
# A receipt naming no known part is kept this long, to be applied when its part is recorded.
SMS_RECEIPT_UNMATCHED_TTL = env.int("SMS_RECEIPT_UNMATCHED_TTL", default=3600)
# A send waits this long for the gateway before answering "queued" and retrying in the background.
SMS_SUBMIT_TIMEOUT = env.float("SMS_SUBMIT_TIMEOUT", default=5.0)
# Attempts before a message that keeps failing for now is failed and refunded (the first is the request's).
SMS_SUBMIT_MAX_ATTEMPTS = env.int("SMS_SUBMIT_MAX_ATTEMPTS", default=8)
# Retry n waits base * 2^(n-1) seconds, at most the max: 10 s, 20 s, 40 s … about 21 minutes in all.
SMS_RETRY_BASE_DELAY = env.int("SMS_RETRY_BASE_DELAY", default=10)
SMS_RETRY_MAX_DELAY = env.int("SMS_RETRY_MAX_DELAY", default=600)
# The sweeper re-enqueues queued messages this many seconds overdue (their retry task was lost).
SMS_SWEEP_GRACE = env.int("SMS_SWEEP_GRACE", default=60)
SMS_SWEEP_BATCH = env.int("SMS_SWEEP_BATCH", default=5000)

# A process remembers an account's sender approvals and sandbox flag this long: a send asks on every request.
SENDER_CACHE_SECONDS = env.float("SENDER_CACHE_SECONDS", default=5.0)
# How long an Idempotency-Key replays its first answer.
IDEMPOTENCY_KEY_TTL = 24 * 3600

# --- Campaigns ------------------------------------------------------------------------
# Messages a batch task claims and submits at once, and how many batch chains share one campaign.
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=500)
CAMPAIGN_PARALLEL_BATCHES = env.int("CAMPAIGN_PARALLEL_BATCHES", default=4)
# A sending campaign with no batch for this long lost its tasks: beat dispatches it again.
CAMPAIGN_STALL_SECONDS = env.int("CAMPAIGN_STALL_SECONDS", default=60)

# Bodies over this size are refused with 413 (the contacts import raises its own limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# The contacts import streams its body (a 100,000-row CSV is a few MB): its own, larger limit.
CONTACTS_IMPORT_MAX_BYTES = env.int("CONTACTS_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "SMS Platform API",
    "DESCRIPTION": "Send SMS, keep contacts, run campaigns and pay with SMS credits. "
    "Authenticate every request with the X-API-KEY header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smsplatform.api.schema.add_error_responses",
    ],
    "APPEND_COMPONENTS": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "code"],
                "properties": {
                    "error": {"type": "string", "example": "Insufficient SMS credits."},
                    "code": {"type": "string", "example": "insufficient_credits"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        }
    },
}

# --- Internationalisation, static files ----------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files need `collectstatic` (the container does it); DEBUG serves the sources.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Without collectstatic (make run, tests) whitenoise serves the apps' static folders directly.
WHITENOISE_USE_FINDERS = DEBUG

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO, with the provider's URL: a line per message of a campaign.
    "loggers": {"httpx": {"level": "WARNING"}},
}
