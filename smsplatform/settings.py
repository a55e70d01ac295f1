"""Settings, read once from the environment (twelve-factor).

With nothing set the platform runs embedded: SQLite, a filesystem broker, a
file cache and the fake gateway. DATABASE_URL and REDIS_URL switch it to
PostgreSQL and Redis, as production and CI run it.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from smsplatform.secret_files import secret_file_get_or_create

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded mode (SQLite file, broker folders, cache, demo key); git-ignored.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if env.str("DATABASE_URL", default="") and not DEBUG:
        # Production is given its key: one made up on a machine would differ between machines, and a known
        # one would let anybody sign admin sessions and CSRF tokens.
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off and DATABASE_URL is set (production).")
    # Embedded (or DEBUG): a random key made once and kept in VAR_DIR (mode 0600), so that `make run` and the
    # README's commands work with DEBUG off, and sessions outlive a restart.
    SECRET_KEY = secret_file_get_or_create(path=VAR_DIR / "secret_key", generate=get_random_secret_key)

# Enforced on every request (AllowedHostsMiddleware). This machine's names by default, so that `make run` serves
# with DEBUG off too; production lists its public names.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The dashboard first: its templates override the admin's. Its AdminConfig puts the admin on its site.
    "dashboard",
    "dashboard.apps.DashboardAdminConfig",
    "django.contrib.humanize",
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
    "webhooks",
    "reports",
]

MIDDLEWARE = [
    # First: a request for a host that is not ours goes no further (a JSON 400).
    "smsplatform.api.middleware.AllowedHostsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before URL resolution: /path and /path/ reach the same view, with no redirect.
    "smsplatform.api.middleware.OptionalTrailingSlashMiddleware",
    # Django's session, user and message middleware, for the dashboard only: API requests skip them.
    "smsplatform.api.middleware.DashboardSessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "smsplatform.api.middleware.DashboardAuthenticationMiddleware",
    "smsplatform.api.middleware.DashboardMessageMiddleware",
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
    # A reused connection is tested (SELECT 1) at the start of a request, so a database restart costs no
    # failed request; not when it served a request within the last second (smsplatform.postgresql), and off
    # saves that round trip on every request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "smsplatform.postgresql"
    # Parameters are bound by the server, and a statement a connection has run twice is prepared (psycopg's
    # prepare_threshold): PostgreSQL then neither parses nor plans a send's two statements again, a third of its
    # CPU per send. Off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode
    # before 1.21).
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
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
# Redis holds no truth, so one that does not answer costs a request this long at most (to connect, or to answer),
# then the platform does without it (docs/operations.md). A healthy Redis answers in well under a millisecond.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.5)
# After a failure a process leaves Redis alone this long: one timeout per request, not one per cache read.
REDIS_RETRY_INTERVAL = env.float("REDIS_RETRY_INTERVAL", default=2.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "smsplatform.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    # Shared by the web process and the worker on one machine, unlike a per-process memory cache.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }


def _redis_url_next_db(url: str) -> str:
    """redis://host:6379/0 → redis://host:6379/1."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(f"Set CELERY_BROKER_URL: its database cannot be derived from REDIS_URL={url}.")
    return parts._replace(path=f"/{int(parts.path.strip('/') or 0) + 1}").geturl()


# The broker has a Redis database of its own, by default the one after the cache's: the cache's clear() is a
# FLUSHDB, which must not take the queues with it. What else lives in Redis (the SMPP hand-off streams and
# leases, beat's lock) stays in REDIS_URL's database, where every process looks for it.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or (
    _redis_url_next_db(REDIS_URL) if REDIS_URL else "filesystem://"
)
if not REDIS_URL:
    # Kombu's filesystem transport: messages are files in one folder that the web process and
    # the worker share. It needs the folder to exist.
    (VAR_DIR / "broker").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
    }
# With Redis, a task that a worker took and did not finish (the worker was killed) is handed out again once it has
# been held this long, waiting for its countdown and running: short, so that what a dead worker held is back within
# minutes. A live worker must never hold a task that long, or it would run twice: no task is published with a
# countdown longer than half of it (smsplatform.celery.App.send_task; a retry due later is left to the sweeper), and
# the tasks that are acknowledged late (messaging.tasks.RELIABLE) run for seconds.
visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
if visibility_timeout < 20:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be at least 20 (seconds): half of it must outlast a submit to a gateway."
    )
TASK_COUNTDOWN_MAX = visibility_timeout // 2
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": visibility_timeout,
        # Every worker looks for such tasks every 10 s (a timer each second, a scan each tenth), not kombu's 100 s.
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 10,
    }
if REDIS_URL:
    # A broker that does not answer (a hung server, a network cut) fails a publish within REDIS_TIMEOUT, where
    # kombu would wait for ever: no request hangs on it.
    CELERY_BROKER_TRANSPORT_OPTIONS |= {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
# A failed publish is tried once more at once, on a new connection (Redis may have closed the pooled one when it
# restarted), not 3 times over 0.6 s or more: what a request could not publish, beat's sweeps find in the database.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
# A worker or beat that lost the broker tries again for as long as it takes, not 100 times (45 minutes) then exits.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Late-acknowledged tasks are not hoarded by one worker process while others are idle.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless told to keep them for
# this many tasks: each of a campaign's batches and chunks then paid for a new PostgreSQL backend (its start, its
# caches, its prepared statements). Kept instead as the web processes keep theirs (smsplatform.celery: one older
# than CONN_MAX_AGE or broken is closed around each task, CONN_HEALTH_CHECKS tests a kept one before its use).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Only the beat holding a lock in Redis sends the schedule (smsplatform/beat.py); another one waits as a standby,
# and takes over within a third of BEAT_LOCK_TTL of the holder's clean stop, or BEAT_LOCK_TTL and a third of its death.
CELERY_BEAT_SCHEDULER = "smsplatform.beat:SingleBeatScheduler"
BEAT_LOCK_TTL = env.int("BEAT_LOCK_TTL", default=30)
CELERY_BEAT_SCHEDULE = {
    "messages-sweep": {"task": "messaging.tasks.messages_sweep", "schedule": env.float("SMS_SWEEP_INTERVAL", 30.0)},
    "idempotency-keys-expire": {"task": "messaging.tasks.idempotency_keys_expire", "schedule": 3600.0},
    "inbound-parts-expire": {"task": "messaging.tasks.inbound_parts_expire", "schedule": 3600.0},
    "receipts-sweep": {
        "task": "messaging.tasks.receipts_sweep",
        "schedule": env.float("SMS_RECEIPT_SWEEP_INTERVAL", 30.0),
    },
    "campaigns-sweep": {
        "task": "campaigns.tasks.campaigns_sweep",
        "schedule": env.float("CAMPAIGN_SWEEP_INTERVAL", 10.0),
    },
    "webhooks-sweep": {
        "task": "webhooks.tasks.webhooks_sweep",
        "schedule": env.float("WEBHOOK_SWEEP_INTERVAL", 10.0),
    },
    "webhooks-expire": {"task": "webhooks.tasks.webhooks_expire", "schedule": 3600.0},
    # The usage report is exact without it; folding the changes keeps what a report reads small.
    "usage-compact": {"task": "reports.tasks.usage_compact", "schedule": env.float("REPORTS_COMPACT_INTERVAL", 5.0)},
    # The same for the contacts list's count.
    "contact-counts-compact": {"task": "contacts.tasks.contact_counts_compact", "schedule": 60.0},
}

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["smsplatform.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "smsplatform.api.throttling.ApiKeyRateThrottle",
        "smsplatform.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["smsplatform.api.parsers.JsonParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "smsplatform.api.negotiation.ApiContentNegotiation",
    "EXCEPTION_HANDLER": "smsplatform.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # ISO 8601 in UTC, to the second, as API.md shows: 2026-11-24T14:16:30Z.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    # The client address of the per-address limit is REMOTE_ADDR, unless reverse proxies of ours stand in
    # front: then the address this many hops from the right of X-Forwarded-For (which a client can forge).
    "NUM_PROXIES": env.int("API_TRUSTED_PROXIES", default=0),
}

# Requests per API key, as "<count>/<s|m|h|d>". A busy customer sends hundreds a second.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1000/s")
# Unauthenticated requests (no key, a wrong or revoked one; the schema and docs) per client address. Clients make
# them only by mistake, so a limit far below the keys' stops a retry loop or a key-guessing flood hammering the
# database, and still lets a person read the docs. Per minute (GitHub allows 60 an hour), so that a client
# that fixes its key is not locked out for long.
API_ANON_RATE_LIMIT = env.str("API_ANON_RATE_LIMIT", default="60/m")
# Authenticated key lookups are cached this long; revocation takes effect at once regardless.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=300)
# A hash that matches no key is remembered this long: a flood of one wrong key costs one query. Short, because
# nothing else clears it but creating that very key.
API_KEY_UNKNOWN_CACHE_SECONDS = env.int("API_KEY_UNKNOWN_CACHE_SECONDS", default=5)
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
# A part of a long inbound message waits this long for its other parts (an SMSC may send them hours apart).
SMS_INBOUND_PART_TTL = env.int("SMS_INBOUND_PART_TTL", default=24 * 3600)
# A send waits this long for the gateway before answering "queued" and retrying in the background.
SMS_SUBMIT_TIMEOUT = env.float("SMS_SUBMIT_TIMEOUT", default=5.0)
# Attempts before a message that keeps failing for now is failed and refunded (the first is the request's).
SMS_SUBMIT_MAX_ATTEMPTS = env.int("SMS_SUBMIT_MAX_ATTEMPTS", default=8)
# Retry n waits base * 2^(n-1) seconds, at most the max: 10 s, 20 s, 40 s … about 23 minutes in all (the last two,
# due after TASK_COUNTDOWN_MAX, are the sweeper's: a minute or so late).
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
# A sending campaign with no batch for this long lost its tasks: beat dispatches it again (and a preparation with
# no chunk for this long).
CAMPAIGN_STALL_SECONDS = env.int("CAMPAIGN_STALL_SECONDS", default=60)
# Members whose queued messages one transaction of a campaign's preparation writes; send/ writes the first chunk.
CAMPAIGN_PREPARE_CHUNK = env.int("CAMPAIGN_PREPARE_CHUNK", default=1000)

# --- Webhooks ---------------------------------------------------------------------------
# Seconds a receiver has to answer one POST (connecting included); slower is a failed attempt, retried.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# POSTs in flight at once per receiving host (scheme, host and port): a slow receiver delays only its own events.
# 20 keeps a receiver answering in 50 ms at 400 events/s, and is a load most web apps take.
WEBHOOK_MAX_IN_FLIGHT = env.int("WEBHOOK_MAX_IN_FLIGHT", default=20)
# Seconds after each failed attempt before the next (Svix's schedule, with 8 h for its last 10 h so that the
# whole stays within 24 h): after the last one the delivery has failed. Each wait is varied by ±WEBHOOK_RETRY_JITTER
# so that the retries of a receiver that was down do not all come back at once.
WEBHOOK_RETRY_SCHEDULE = [
    float(delay) for delay in env.list("WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000",
                                                                           "28800", "28800"])
]  # fmt: skip
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.2)
# http:// and private, loopback or link-local receivers (a laptop's own server): for tests and `make run` only, as
# they let any account make the platform call into its own network (server-side request forgery).
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# After a rotation the previous secret signs too for this long, so that receivers can roll over.
WEBHOOK_SECRET_OVERLAP = env.int("WEBHOOK_SECRET_OVERLAP", default=24 * 3600)
# A dispatcher task delivers one host's events for at most this long, then queues itself again behind the other
# tasks: one busy receiver does not keep a worker for ever.
WEBHOOK_DISPATCH_SECONDS = env.float("WEBHOOK_DISPATCH_SECONDS", default=20.0)
# Finished deliveries (and their attempts) are kept this many days for GET /api/v1/webhooks/deliveries/.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
if WEBHOOK_MAX_IN_FLIGHT < 1 or not WEBHOOK_RETRY_SCHEDULE or min(WEBHOOK_RETRY_SCHEDULE) < 0:
    raise ImproperlyConfigured(
        "WEBHOOK_MAX_IN_FLIGHT must be at least 1 and WEBHOOK_RETRY_SCHEDULE a list of seconds, e.g. 5,300,1800."
    )

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
    # Enums named here, not after their fields: several fields are called "status", and clients generated from
    # the schema keep these names.
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "messaging.models.Message.Status",
        "SenderIdStatusEnum": "messaging.models.SenderId.Status",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "TransactionTypeEnum": "billing.models.Transaction.Type",
        "ChannelEnum": "messaging.apis.CHANNELS",
        "EncodingEnum": "messaging.apis.ENCODINGS",
        "HealthStatusEnum": "smsplatform.health.HEALTH_STATUSES",
        "ComponentStateEnum": "smsplatform.health.COMPONENT_STATES",
    },
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
# The product's name, as the dashboard shows it in its header and title.
PRODUCT_NAME = env.str("PRODUCT_NAME", default="SMS Localhost")
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

# --- HTTPS ----------------------------------------------------------------------------
# Production sits behind a proxy that ends TLS and says so in X-Forwarded-Proto: with HTTPS=true (docker compose
# sets it) plain http is redirected, cookies travel over https only and browsers are told to keep to https (HSTS).
# Off by default, so that `make run` serves http://localhost with DEBUG off too.
HTTPS = env.bool("HTTPS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
# Load balancers and container health checks probe the app itself, over plain http.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
# A year, as HSTS preload lists ask; set a few minutes while first trying HTTPS out, as browsers remember it.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO, with the provider's URL: a line per message of a campaign.
    "loggers": {"httpx": {"level": "WARNING"}},
}
