"""Settings, driven by the environment, with defaults that run the embedded chat.

With no variable set, everything runs on one machine with no system service: SQLite, an embedded
NATS server, the in-memory channel layer and cache, and the bridge inside the web process.
"""

from __future__ import annotations

import binascii
import ipaddress
import math
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Generic Django classes (ModelAdmin[Room], ...) are subscriptable at run time, as the type stubs write them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "data"

env = environ.Env()


def _env_str(name: str, default: str) -> str:
    return str(env.str(name, default=default))


def _hex_secret(name: str, default: str, length: int) -> bytes:
    """Reads a hex secret of `length` bytes, failing at start-up with the variable's name."""
    value = _env_str(name, default)
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be hex ({length} bytes): {exc}") from exc
    if len(raw) != length:
        raise ImproperlyConfigured(f"{name} must be {length} bytes of hex, got {len(raw)} bytes")
    return raw


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _positive_int(name: str, default: int) -> int:
    value = _env_str(name, str(default))
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, got {value!r}")
    return number


# Development values: `make run` (DJANGO_DEBUG=1) may use them; with DEBUG off start-up refuses them
# (production_secrets_check below).
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-in-production"
DEV_MASTER_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
DEV_MASTER_IV = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"

SECRET_KEY = _env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
# Off unless asked for: `make run` and the test suite set DJANGO_DEBUG=1.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS, cookies, Content-Security-Policy -----------------------------------------------------
# Production defaults (DEBUG off) under which `manage.py check --deploy` is clean; each has a variable.
# Behind a TLS-terminating proxy set DJANGO_SECURE_PROXY_SSL_HEADER=1 (it must set X-Forwarded-Proto).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from the load balancer, over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS preload is a commitment to the browsers' preload list: an operator opts in (the variable above).
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# The pages load only their own scripts, styles and images; the stream is a same-origin WebSocket.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, "ws:", "wss:"] if DEBUG else [SELF, "wss:"],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the app: the docs work offline
    "channels",
    "storage",
    "rooms",
    "messaging",
    "streaming",
]

MIDDLEWARE = [
    # First: counts every request and its latency (chatproject/metrics.py).
    "chatproject.metrics.RequestMetricsMiddleware",
    "chatproject.access_log.RequestLogMiddleware",  # request id, access line: before the others log
    "django.middleware.security.SecurityMiddleware",
    # Static files with DEBUG off (STORAGES below); with DEBUG on Django's staticfiles serves them.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: locks out sign-ins after repeated failures (django-axes; AXES_* below).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatproject.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "chatproject.asgi.application"
# HTTP requests a daphne runs at once, each on a thread of its pool (chatproject/http_app.py); more
# wait their turn. As many as the database pool has connections (DATABASE_POOL_MAX).
CHAT_HTTP_THREADS = _positive_int("CHAT_HTTP_THREADS", env.int("DATABASE_POOL_MAX", default=8))

# --- Storage -------------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif "postgresql" in DATABASES["default"]["ENGINE"]:
    # Requests run on the HTTP threads (chatproject/http_app.py), the stream's database work on threads
    # of its own, management commands on theirs: psycopg's pool shares a bounded set of connections
    # among them all (a PostgreSQL connect costs ~10 ms here).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Each connection is checked (one empty round trip) when taken from the pool: after a database
    # restart or failover the pool's dead connections are replaced, not handed to a request or stream.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=1),
            "max_size": env.int("DATABASE_POOL_MAX", default=8),
            # A request waits this long for a connection, then answers 503 `service_unavailable`.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
        }

CHAT_STORAGE = _choice("CHAT_STORAGE", "postgres", ("postgres", "scylla"))
CASSANDRA_HOSTS: list[str] = env.list("CASSANDRA_HOSTS", default=["127.0.0.1"])
CASSANDRA_KEYSPACE = _env_str("CASSANDRA_KEYSPACE", "chat")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache -------------------------------------------------------------

REDIS_URL = _env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pubsub layer: no per-group capacity drop and no BZPOPMIN time-outs (NOTES.md).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Redis pub/sub channels ignore the db number: the prefix separates deployments sharing a Redis.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": _env_str("CHAT_CHANNEL_LAYER_PREFIX", "asgi")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "kernel.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chat",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- NATS / events ------------------------------------------------------------------------------

NATS_URL = _env_str("NATS_URL", "")
CHAT_EMBEDDED_NATS_PORT = env.int("CHAT_EMBEDDED_NATS_PORT", default=4222)
CHAT_NATS_DATA_DIR = _env_str("CHAT_NATS_DATA_DIR", str(DATA_DIR / "nats"))
# Copies of the stream JetStream keeps: 3 on a three-node cluster (NATS_URL then lists its servers).
CHAT_STREAM_REPLICAS = _positive_int("CHAT_STREAM_REPLICAS", 1)
CHAT_STREAM_HEARTBEAT_SECONDS = env.float("CHAT_STREAM_HEARTBEAT_SECONDS", default=15.0)
# Between heartbeats: how often a process checks that Redis still holds its registry (re-registers if not).
CHAT_STREAM_REGISTRY_CHECK_SECONDS = env.float("CHAT_STREAM_REGISTRY_CHECK_SECONDS", default=1.0)
# The stream registry's Redis pool per process: a caller waits (up to the timeout) for a free connection.
CHAT_STREAM_REGISTRY_MAX_CONNECTIONS = env.int("CHAT_STREAM_REGISTRY_MAX_CONNECTIONS", default=32)
CHAT_STREAM_REGISTRY_POOL_TIMEOUT = env.float("CHAT_STREAM_REGISTRY_POOL_TIMEOUT", default=10.0)
# Threads per process for the stream's database work (handshakes, room look-ups, replays).
CHAT_STREAM_DB_THREADS = env.int("CHAT_STREAM_DB_THREADS", default=4)
# Replays (reconnects with a cursor, gaps) reading JetStream at once per process; the others wait their turn.
CHAT_STREAM_REPLAY_CONCURRENCY = _positive_int("CHAT_STREAM_REPLAY_CONCURRENCY", 32)
CHAT_OUTBOX_RETENTION_HOURS = env.float("CHAT_OUTBOX_RETENTION_HOURS", default=24.0)
# Publish outbox events right after commit (off: only the relay publishes; tests of other apps).
CHAT_PUBLISH_ON_COMMIT = env.bool("CHAT_PUBLISH_ON_COMMIT", default=bool(NATS_URL))
CHAT_PUSH_BACKEND = _env_str("CHAT_PUSH_BACKEND", "streaming.push.DatabasePushBackend")
CHAT_PUSH_WEBHOOK_URL = _env_str("CHAT_PUSH_WEBHOOK_URL", "")

# --- Encryption (SPEC.md §6) ---------------------------------------------------------------------
# The defaults serve development only; production sets both.
CHAT_MASTER_KEY = _hex_secret("CHAT_MASTER_KEY", DEV_MASTER_KEY, 32)
CHAT_MASTER_IV = _hex_secret("CHAT_MASTER_IV", DEV_MASTER_IV, 16)


def production_secrets_check() -> None:
    """With DEBUG off, refuses to start on a development secret (unset, or the value in this file:
    the master key wraps every room key), naming each variable to set."""
    if DEBUG:
        return
    dev = {
        "DJANGO_SECRET_KEY": (SECRET_KEY, DEV_SECRET_KEY),
        "CHAT_MASTER_KEY": (CHAT_MASTER_KEY.hex(), DEV_MASTER_KEY),
        "CHAT_MASTER_IV": (CHAT_MASTER_IV.hex(), DEV_MASTER_IV),
    }
    missing = [name for name, (value, dev_value) in dev.items() if value.lower() == dev_value]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} not set (or set to the development value) while DJANGO_DEBUG is off: "
            "production needs secrets of its own (README, Production): DJANGO_SECRET_KEY from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, CHAT_MASTER_KEY from "
            "`secrets.token_hex(32)`, CHAT_MASTER_IV from `secrets.token_hex(16)`. "
            "For development, set DJANGO_DEBUG=1 (`make run` does)."
        )


production_secrets_check()

CHAT_ROOM_CACHE_SECONDS = env.int("CHAT_ROOM_CACHE_SECONDS", default=3600)

# --- Rates (kernel/throttling.py: per user, on the cache; "N/s|m|h|d", empty turns one off) -----
CHAT_RATES = {
    "send": _env_str("CHAT_RATE_SEND", "120/m"),  # SendMessage, EditMessage, ReactToMessage
    "room_create": _env_str("CHAT_RATE_ROOM_CREATE", "30/h"),
    "member_add": _env_str("CHAT_RATE_MEMBER_ADD", "60/h"),  # AddParticipantToRoom calls
}
# The stream's own: client frames per connection per 10 s, open sockets per user, a client frame's
# size (streaming/frame_limits.py).
CHAT_STREAM_FRAME_RATE = env.int("CHAT_STREAM_FRAME_RATE", default=30)
CHAT_MAX_SOCKETS_PER_USER = env.int("CHAT_MAX_SOCKETS_PER_USER", default=20)
CHAT_STREAM_MAX_FRAME_BYTES = env.int("CHAT_STREAM_MAX_FRAME_BYTES", default=4096)
# Bytes a socket may leave unread on the server before it is closed with 4008 slow_consumer.
CHAT_STREAM_MAX_SEND_BUFFER = env.int("CHAT_STREAM_MAX_SEND_BUFFER", default=1024 * 1024)
# A frame for a socket whose buffer is over that bound waits this long for the client to read (a
# big replay goes out at the client's pace); a client that does not is closed with 4008.
CHAT_STREAM_SEND_WAIT_SECONDS = env.float("CHAT_STREAM_SEND_WAIT_SECONDS", default=2.0)
# On SIGTERM, daphne answers the requests in flight and closes sockets (1001) for up to this long.
CHAT_SHUTDOWN_GRACE_SECONDS = env.float("CHAT_SHUTDOWN_GRACE_SECONDS", default=10.0)
# GET /metrics (chatproject/metrics.py): answered to these addresses or networks, and to anyone with
# `Authorization: Bearer <CHAT_METRICS_TOKEN>` when it is set; others get 403.
CHAT_METRICS_ALLOWED_IPS: list[str] = env.list("CHAT_METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
for _entry in CHAT_METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry.strip(), strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CHAT_METRICS_ALLOWED_IPS: {_entry!r} is no address or network: {exc}") from exc
CHAT_METRICS_TOKEN = _env_str("CHAT_METRICS_TOKEN", "")

# --- Limits (kernel/limits.py: what each bounds, and why the defaults fit NATS's 1 MiB payloads) ---
CHAT_MAX_MESSAGE_TEXT = env.int("CHAT_MAX_MESSAGE_TEXT", default=16_384)
CHAT_MAX_MESSAGE_CONTENT = env.int(
    "CHAT_MAX_MESSAGE_CONTENT", default=4 * math.ceil((4 * CHAT_MAX_MESSAGE_TEXT + 16) / 3)
)
CHAT_MAX_MENTIONS = env.int("CHAT_MAX_MENTIONS", default=100)
CHAT_MAX_ROOM_NAME = env.int("CHAT_MAX_ROOM_NAME", default=255)
CHAT_MAX_ROOM_DESCRIPTION = env.int("CHAT_MAX_ROOM_DESCRIPTION", default=2_000)
CHAT_MAX_PARTICIPANTS_PER_REQUEST = env.int("CHAT_MAX_PARTICIPANTS_PER_REQUEST", default=1_000)
CHAT_MAX_ROOM_MEMBERS = env.int("CHAT_MAX_ROOM_MEMBERS", default=5_000)
CHAT_EVENT_MAX_BYTES = env.int("CHAT_EVENT_MAX_BYTES", default=1_000_000)

# --- Auth, API ----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Sign-in attempts (the pages and the admin): after CHAT_LOGIN_FAILURE_LIMIT failures for one username,
# or from one address, sign-ins of it are refused (429, Retry-After) for CHAT_LOGIN_COOLOFF_MINUTES,
# before any password is hashed. Behind a proxy, the address is REMOTE_ADDR unless AXES_IPWARE_* are set.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("CHAT_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("CHAT_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "web.lockout.lockout_response"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kernel.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kernel.exceptions.exception_handler",
    # JSON only (kernel/parsers.py: size and depth refused with 4xx); other bodies get 415.
    "DEFAULT_PARSER_CLASSES": ["kernel.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["kernel.throttling.ChatRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": (
        "Rooms, messages and the live stream of the chat backend (port of the Go chat service). "
        "Every error answers `{code, message, details}` (the `Error` schema). "
        "The live stream, a WebSocket at `/ws/chat/v1/stream` (handshake, frames, cursors and replay, "
        "close codes): [the stream's documentation](/api/docs/stream/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"RoomTypeEnum": "storage.enums.RoomType"},
    # Error answers documented with their body (kernel/openapi.py), after the enum hook.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "kernel.openapi.error_bodies"],
    # Swagger UI from the app's own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------------
# DEBUG on: Django's staticfiles serves them from the source folders (chatproject/urls.py). DEBUG off:
# `manage.py collectstatic` (the Procfile's release step) copies them into STATIC_ROOT under hashed
# names, with gzip copies, and WhiteNoise serves them from the web process: the compressed copy when
# the browser accepts it, hashed names with a cache of ten years (they never change), others 60 s.
STATIC_URL = "static/"
STATIC_ROOT = Path(_env_str("DJANGO_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
if not DEBUG:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

from chatproject.logging_config import logging_settings  # noqa: E402  (one handler; plain or JSON lines)

LOGGING = logging_settings(log_format=_env_str("LOG_FORMAT", "plain"), level=_env_str("CHAT_LOG_LEVEL", "INFO"))

if CHAT_STORAGE == "scylla":
    from chatproject.settings_scylla import *  # noqa: E402,F403  (the Cassandra database: settings_scylla.py)
