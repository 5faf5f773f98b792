"""Settings, all from the environment (see README "Configuration" and .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from crm.queues import DEFAULT_QUEUE, LONG_QUEUE, LONG_TASKS

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("DJANGO_TEST", False)

_INSECURE_DEV_KEY = "django-insecure-dev-only-key-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY") or (_INSECURE_DEV_KEY if DEBUG or TESTING else "")
if not SECRET_KEY or (not DEBUG and not TESTING and SECRET_KEY == _INSECURE_DEV_KEY):
    raise ImproperlyConfigured("SECRET_KEY must be set (a long random string) when DEBUG is off.")

# `*.localhost` resolves to loopback in browsers: localhost is the shared space,
# <udn>.localhost a UDN.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", ".localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The shared space's host name; UDN hosts are <slug>.<BASE_DOMAIN>.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost")

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "warroom",
    # Keyed CPF hashes and counts shared by every UDN (the contact-pressure budget).
    "campaigns.pressure",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_celery_beat",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "crm",
    "campaigns",
    "loyalty",
    "insights",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.UDN"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "crm.urls_public"
ROOT_URLCONF = "crm.urls_tenant"
# A host that is no UDN's and not the shared space's gets a 404: serving it as the shared space
# would let any `*.localhost` (or any name pointed here) pose as the product.
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# One `SET search_path` a request, not one a cursor.
TENANT_LIMIT_SET_CALLS = True
# Seconds a web process remembers which UDN a host name belongs to (0: look it up every request).
TENANT_CACHE_SECONDS = env_int("TENANT_CACHE_SECONDS", 30)
# New UDNs clone this migrated, empty schema instead of running every migration.
TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_BASE_SCHEMA = "udn_template"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "tenants.middleware.CachedTenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.actors.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.UDNAccessMiddleware",
    "tenants.middleware.NoStoreMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.udn_space",
            ],
        },
    },
]

WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

_database_url = env_str("DATABASE_URL")
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `./dev up` / `./dev manage` set it to the embedded PostgreSQL."
    )
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Check a persistent connection before each request reuses it (one cheap round trip), so a restarted
# database or a dropped idle connection never fails a request. Off only where that trip matters more.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key carries the schema: a UDN never reads another UDN's cache.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "crm-test" if TESTING else "crm"),
    },
    # Keys without the schema, for what is the same whatever the host (sign-in throttles: users
    # live once, in the public schema). Its own prefix keeps them apart from every UDN's keys.
    "global": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "crm-test" if TESTING else "crm") + "-global",
    },
}

AUTH_USER_MODEL = "tenants.User"
# ModelBackend that refuses sign-ins while an account or an address is throttled (tenants/auth.py).
AUTHENTICATION_BACKENDS = ["tenants.auth.ThrottledModelBackend"]
# Sign-in throttling (tenants/throttle.py): failed sign-ins allowed per account and per client
# address in LOGIN_FAILURE_WINDOW seconds (a sliding window); beyond that the form asks to wait,
# even with the right password. Password-reset requests per e-mail and per address, per hour.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
PASSWORD_RESETS_PER_EMAIL = env_int("PASSWORD_RESETS_PER_EMAIL", 3)
PASSWORD_RESETS_PER_ADDRESS = env_int("PASSWORD_RESETS_PER_ADDRESS", 10)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sessions live once, in the public schema. SESSION_COOKIE_DOMAIN (e.g.
# ".crm.example.com") shares one sign-in across UDN hosts where browsers accept
# a parent-domain cookie; otherwise the UDN switcher hands the session over with
# a signed, short-lived, single-use token.
SESSION_COOKIE_DOMAIN = env_str("SESSION_COOKIE_DOMAIN") or None
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
HANDOFF_MAX_AGE = 60

LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Where the Parquet export goes: a path or an fsspec URL (s3://bucket/lake needs s3fs installed).
LAKE_URL = env_str("LAKE_URL", str(BASE_DIR / "var" / "lake"))
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# E-mail: SMTP by default (EMAIL_URL-style settings kept explicit and simple).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "UDN CRM <no-reply@localhost>")

# Messaging channels (campaigns). Secrets a UDN saves for its providers are encrypted at rest with
# this Fernet key (campaigns/secrets.py; several, comma-separated, to rotate: the first encrypts,
# any decrypts). Required when DEBUG is off, like SECRET_KEY; development and tests derive one.
CHANNEL_SECRETS_KEYS = env_list("CHANNEL_SECRETS_KEY", [])
if not CHANNEL_SECRETS_KEYS and not DEBUG and not TESTING:
    raise ImproperlyConfigured(
        "CHANNEL_SECRETS_KEY must be set when DEBUG is off (a Fernet key: "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
    )
# Providers a UDN configures (real WhatsApp, SMS, FCM, Telegram, SMTP) may reach private addresses
# only where allowed: by default in development and tests (the sandbox runs on this machine).
PROVIDER_ALLOW_PRIVATE_URLS = env_bool("PROVIDER_ALLOW_PRIVATE_URLS", DEBUG or TESTING)
# The local messaging sandbox (campaigns/sandbox, `python -m devtools.processes sandbox`): every
# UDN's channels go there until it configures a real provider.
SANDBOX_HOST = env_str("SANDBOX_HOST", "127.0.0.1")
SANDBOX_SMTP_PORT = env_int("SANDBOX_SMTP_PORT", 8025)
SANDBOX_HTTP_PORT = env_int("SANDBOX_HTTP_PORT", 8026)
# Where the sandbox calls back delivery statuses (the web server; the UDN's host goes in the Host
# header), and how long it waits between one status and the next (sent, delivered, read).
SANDBOX_CALLBACK_URL = env_str("SANDBOX_CALLBACK_URL", "http://127.0.0.1:8000")
SANDBOX_STATUS_DELAY_SECONDS = float(env_str("SANDBOX_STATUS_DELAY_SECONDS", "2"))


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells a unix-socket Redis `redis+socket://path?virtual_host=N`."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _sep, query = redis_url.removeprefix("unix://").partition("?")
    db = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("db", "0")
    return f"redis+socket://{path}?virtual_host={db}"


# Celery: Redis broker; tasks carry their schema (tenant-schemas-celery).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or celery_broker_url(REDIS_URL)
# Results are kept briefly in Redis (progress of long work lives in the database).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_TASK_ACKS_LATE = True
# Two queues, each with its own worker (devtools/processes.py): minutes-long work never holds up
# the ticks and sends of any UDN.
CELERY_TASK_DEFAULT_QUEUE = DEFAULT_QUEUE
CELERY_TASK_ROUTES = {task: {"queue": LONG_QUEUE} for task in LONG_TASKS}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Seconds between per-UDN ticks (beat). Journeys will hang off this tick.
UDN_TICK_SECONDS = env_int("UDN_TICK_SECONDS", 60)
# A worker heartbeat older than this makes /healthz report "degraded".
HEARTBEAT_STALE_SECONDS = env_int("HEARTBEAT_STALE_SECONDS", 300)
# The shared space's periodic work (public schema; DatabaseScheduler loads these entries): the War
# Room's daily e-mail of actions due tomorrow or overdue, and joint campaigns' results.
CELERY_BEAT_SCHEDULE = {
    "warroom-actions-due": {"task": "warroom.actions_due_notify", "schedule": crontab(minute=0, hour=8)},
    "warroom-joint-results": {"task": "warroom.joint_results_refresh", "schedule": 15 * 60},
    # Insights: every UDN's headline figures of last week, side by side, to the coordinators.
    "insights-weekly-coordinators": {
        "task": "insights.weekly_report_coordinators",
        "schedule": crontab(minute=30, hour=7, day_of_week=1),
    },
}
# The shared calendar warns of two campaigns on the same UDN base and channel less than this many
# days apart (warroom.selectors.calendar).
WARROOM_CONFLICT_DAYS = env_int("WARROOM_CONFLICT_DAYS", 3)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # {"error": {"code", "message", "field", "details"}} for every API error (crm/api/errors.py).
    "EXCEPTION_HANDLER": "crm.api.errors.api_exception_handler",
}
# Partner API (crm/api): requests per key, and the largest request body (413 beyond it).
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1200/min")
# Webhook deliveries go to public addresses only (no loopback, private network or cloud metadata),
# unless allowed here: by default in development and tests, where receivers run on this machine.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG or TESTING)
# Delivered and failed webhook deliveries are deleted from the log after this many days.
WEBHOOK_LOG_RETENTION_DAYS = env_int("WEBHOOK_LOG_RETENTION_DAYS", 30)
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 5 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "UDN CRM API",
    "DESCRIPTION": "The partner REST API of one UDN, on that UDN's host. Authenticate with "
    "`Authorization: Bearer <API key>`; POSTs accept an `Idempotency-Key` header.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # No CDN: Swagger UI's files come from drf-spectacular-sidecar (static files).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Content-Security-Policy (django-csp): scripts and <style> elements only from our own static
# files or carrying the request's nonce (`nonce="{{ request.csp_nonce }}"`); no inline event
# handlers. style="" attributes stay allowed (style-src-attr): templates set computed widths and
# colours with them, and they cannot run code. Swagger UI (/api/v1/docs/) is served from our
# static files with nonced inline parts (templates/drf_spectacular/swagger_ui.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],  # only for browsers without the two below
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}

# Production safety: with DEBUG off, cookies are secure and HSTS is on.
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not TESTING)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not TESTING)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not TESTING)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if TESTING else 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_on_one_line": {"()": "crm.logs.RefusalsOnOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["refusals_on_one_line"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "pgserver": {"level": "WARNING"},
        # Handled here, not by Django's default "django" handlers (which print tracebacks in DEBUG).
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# The port ./dev up serves on (printed URLs).
DEV_PORT = env_int("PORT", 8000)

# Messages' link into the app (the template variable `link_app`): the app's URL scheme or a
# universal link, e.g. "https://app.example.com/".
APP_DEEP_LINK_BASE = env_str("APP_DEEP_LINK_BASE", "udnapp://")
