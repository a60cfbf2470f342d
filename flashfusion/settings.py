"""FlashFusion settings: every deploy-time value comes from the environment.

Variables (all optional on a developer machine):
  DATABASE_URL   sqlite:///path or postgresql://…  (default: var/flashfusion.sqlite3)
  REDIS_URL      redis://host:port/db; when set it carries the channel layer
  SECRET_KEY     required when DEBUG is off
  DEBUG          1/0 (default 1 only when SECRET_KEY is unset)
  ALLOWED_HOSTS  comma-separated (default: localhost, 127.0.0.1, [::1])
  FIELD_ENCRYPTION_KEY  Fernet key(s), comma-separated, newest first, for
                 store credentials (default: derived from SECRET_KEY)
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from flashfusion.env import (
    env_bool,
    env_database,
    env_float,
    env_int,
    env_list,
    env_public_url,
    env_redis_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

_secret = env_str("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", default=not _secret)
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    _secret = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = _secret
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "django_q",
    "flashfusion",
    "dashboard",
    "products",
    "stores",
    "agents",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "flashfusion.middleware.OrganizationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "flashfusion.urls"
ASGI_APPLICATION = "flashfusion.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "flashfusion.context_processors.organization",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", VAR_DIR / "flashfusion.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    # Pub/sub layer: 147 ms vs 681 ms p95 for the core layer at 200 clients
    # (measured for issue 2). redis-py caps a pool at 100 connections by
    # default, which 100 simultaneous sockets reach.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000, minimum=10)}],
                "prefix": env_str("CHANNELS_PREFIX", "flashfusion"),
            },
        }
    }
else:
    # In-memory layer cannot cross processes: the web process relays events
    # that workers wrote to the event table (flashfusion.live.EventRelay).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# django-q2 executes; our job table (agents.Job) is the queue of record:
# priorities, concurrency limits, leases, attempts and idempotency live there,
# and each q2 task only asks a worker to run the best runnable job
# (agents.runner.run_next). With Redis, q2's Redis broker wakes a worker at
# once (BLPOP); without it the ORM broker polls every Q_POLL seconds.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 30, minimum=2)
JOB_CONCURRENCY = {
    "total": env_int("JOB_CONCURRENCY_TOTAL", 16, minimum=1),
    "per_store": env_int("JOB_CONCURRENCY_PER_STORE", 2, minimum=1),
    # kind -> most running at once; a kind's own default is in agents.policies
    "per_kind": {},
}
#: {kind: {field: value}} over agents.policies.DEFAULT_POLICIES (timeout, max_attempts, backoff, base, cap, jitter).
JOB_POLICY_OVERRIDES: dict = {}
#: Catalog edits wait this long (seconds) for more edits before their stores sync; stock edits wait less.
SYNC_DEBOUNCE_SECONDS = env_float("SYNC_DEBOUNCE_SECONDS", 5.0, minimum=0)
SYNC_STOCK_DEBOUNCE_SECONDS = env_float("SYNC_STOCK_DEBOUNCE_SECONDS", 1.0, minimum=0)
SYNC_DEBOUNCE_MAX_SECONDS = env_float("SYNC_DEBOUNCE_MAX_SECONDS", 60.0, minimum=1)
#: A store's webhooks for one product wait this long (seconds) for more before one pull fetches the product
#: (``stores.webhooks``); a burst keeps pushing it back, at most PULL_DEBOUNCE_MAX_SECONDS after the first.
PULL_DEBOUNCE_SECONDS = env_float("PULL_DEBOUNCE_SECONDS", 5.0, minimum=0)
PULL_DEBOUNCE_MAX_SECONDS = env_float("PULL_DEBOUNCE_MAX_SECONDS", 60.0, minimum=1)
#: Where stores reach this product (``https://flashfusion.example.com``): webhook delivery URLs are built on it.
#: Empty: taken from the request of the admin who connects the store or repairs its webhooks.
PUBLIC_BASE_URL = env_public_url("PUBLIC_BASE_URL")
JOB_RETENTION_DAYS = env_int("JOB_RETENTION_DAYS", 14, minimum=1)
JOB_DEAD_LETTER_RETENTION_DAYS = env_int("JOB_DEAD_LETTER_RETENTION_DAYS", 90, minimum=1)

Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "flashfusion"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    # Our per-kind timeouts stop a job first (agents.policies); this is q2's outer bound.
    "timeout": env_int("Q_TIMEOUT", 3900, minimum=10),
    "retry": env_int("Q_RETRY", 4000, minimum=20),
    "max_attempts": 1,
    "poll": env_float("Q_POLL", 0.1, minimum=0.01),
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # LISTEN/NOTIFY wakes a worker as a task is queued (flashfusion.q_broker).
        Q_CLUSTER["broker_class"] = "flashfusion.q_broker.PostgresNotifyBroker"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js is our vendored basic bundle (static/vendor/plotly/), not the 4.8 MB one of the Python package.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
#: Uploaded catalog files (products.CatalogImport.file) are kept here until their import is done.
CATALOG_IMPORT_ROOT = Path(env_str("CATALOG_IMPORT_ROOT", str(VAR_DIR / "imports")))
#: Largest catalog file accepted, in bytes (default 200 MiB, about 1,000,000 CSV rows).
CATALOG_IMPORT_MAX_BYTES = env_int("CATALOG_IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
#: Products written per transaction by an import (at most), how long one such transaction should last
#: (seconds; each chunk is sized from the last one's pace, 0 = always the most products), and the pause
#: between chunks (seconds): on the embedded SQLite database one writer holds the whole file, so other writers
#: (logins, heartbeats) wait at most a chunk (products.importers.writing).
CATALOG_IMPORT_CHUNK_PRODUCTS = env_int("CATALOG_IMPORT_CHUNK_PRODUCTS", 200, minimum=1)
CATALOG_IMPORT_CHUNK_SECONDS = env_float("CATALOG_IMPORT_CHUNK_SECONDS", 0.1, minimum=0)
CATALOG_IMPORT_CHUNK_PAUSE_SECONDS = env_float("CATALOG_IMPORT_CHUNK_PAUSE_SECONDS", 0.05, minimum=0)

DJANGO_TABLES2_TEMPLATE = "django_tables2/flashfusion.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table table-hover align-middle mb-0", "thead": {"hx-boost": "true"}}

# Risky-change rule for the first approvals version: a price cut larger than
# this share (percent) waits for a reviewer. Per organization it can differ.
DEFAULT_PRICE_DROP_APPROVAL_PERCENT = env_int("PRICE_DROP_APPROVAL_PERCENT", 20, minimum=0)

# Seconds between event-table polls by the web process's relay (embedded mode).
EVENT_RELAY_INTERVAL = 0.3

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Refusals by the access checks are expected: one line each, no traceback (flashfusion.errors).
    "filters": {"expected_refusals": {"()": "flashfusion.errors.ExpectedRefusalFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # httpx logs every URL at INFO, OAuth signatures included.
        "httpx": {"level": "WARNING"},
        "django.request": {"filters": ["expected_refusals"]},
    },
}
