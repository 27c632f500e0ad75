"""Klaxon settings, read from the environment (see README "Configuration")."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from klaxon_site.lib.encryption import parse_keys
from klaxon_site.lib.env import cache_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "django-insecure-klaxon-development-only"
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# External base URL; the SCIM endpoint URL shown to administrators is built from it.
KLAXON_PUBLIC_URL = env_str("KLAXON_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
KLAXON_SCIM_LOG_DAYS = env_int("KLAXON_SCIM_LOG_DAYS", 30)
# Seconds a SCIM activity row may wait to be written with others (0: each at once); see
# scim_sync.activity.PendingActivity.
KLAXON_SCIM_ACTIVITY_DELAY = env_float("KLAXON_SCIM_ACTIVITY_DELAY", 0.0 if DEBUG else 1.0)
# Provisioning health alerts (scim_sync/health.py states the rules).
KLAXON_ALERT_AUTH_FAILURES = env_int("KLAXON_ALERT_AUTH_FAILURES", 10)
KLAXON_ALERT_AUTH_WINDOW_MINUTES = env_int("KLAXON_ALERT_AUTH_WINDOW_MINUTES", 15)
KLAXON_ALERT_SILENCE_HOURS = env_int("KLAXON_ALERT_SILENCE_HOURS", 24)
KLAXON_ALERT_DEACTIVATION_SHARE = env_float("KLAXON_ALERT_DEACTIVATION_SHARE", 0.10)
# So that one leaver in a team of five raises nothing.
KLAXON_ALERT_DEACTIVATION_MINIMUM = env_int("KLAXON_ALERT_DEACTIVATION_MINIMUM", 3)
# Days before a token's chosen expiry that the administrators are warned.
KLAXON_ALERT_TOKEN_EXPIRY_DAYS = env_int("KLAXON_ALERT_TOKEN_EXPIRY_DAYS", 7)
# How many proxies in front of Klaxon append to X-Forwarded-For (klaxon_site/lib/client_address.py).
KLAXON_TRUSTED_PROXIES = env_int("KLAXON_TRUSTED_PROXIES", 0)
# Fernet keys that encrypt secrets Klaxon must read back (identity providers' client secrets,
# two-factor seeds): the first encrypts, all decrypt (klaxon_site/lib/encryption.py).
KLAXON_ENCRYPTION_KEYS = env_list("KLAXON_ENCRYPTION_KEYS")
parse_keys(KLAXON_ENCRYPTION_KEYS)  # a malformed key stops the process here, not at first use
# Site administrators who sign in with a password must pass a second factor (TOTP or a
# recovery code); at their next sign-in, those without one set it up before getting in.
KLAXON_MFA_FOR_SITE_ADMINS = env_bool("KLAXON_MFA_FOR_SITE_ADMINS", True)
# An identity provider on this machine (plain HTTP on loopback), as the suite and `make run`
# use; off in production, where an issuer must be a public HTTPS address (sso/oidc.py).
KLAXON_SSO_ALLOW_LOCAL_ISSUERS = env_bool("KLAXON_SSO_ALLOW_LOCAL_ISSUERS", DEBUG)
# Password-reset and invitation mails are looked up, rendered and sent in a thread after the
# page answers (accounts/mail.py), so the answer does not tell whether anyone matched.
# Not read from the environment: only tests turn it off (tests/conftest.py).
KLAXON_BACKGROUND_MAIL = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "accounts",
    "locations",
    "scim_sync",
    "sso",
    "mfa",
]

MIDDLEWARE = [
    # SCIM requests leave here for KLAXON_SCIM_MIDDLEWARE below.
    "klaxon_site.middleware.ScimRequestsSkipPortalLayers",
    # First, so that redirects and errors from the rest carry a request id and an access line too.
    "klaxon_site.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "klaxon_site.middleware.security_headers",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After it: whether the signed-in person is a site administrator, when the organisation's
    # identity provider chooses them (sso/policy.py).
    "sso.middleware.identity_provider_roles",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its process_exception sees a view's database error first.
    "klaxon_site.middleware.DatabaseUnavailableMiddleware",
]
# What a SCIM request (/scim/) passes through instead: an identity provider's machine traffic
# has no session, CSRF cookie, signed-in user, messages or static files, and a database outage
# is a SCIM error (scim_sync.protocol), so those layers would cost every request for nothing.
# Request ids and access lines, host validation, HTTPS redirect and security headers stay.
KLAXON_SCIM_MIDDLEWARE = [
    "klaxon_site.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "klaxon_site.middleware.security_headers",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "klaxon_site.urls"
WSGI_APPLICATION = "klaxon_site.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'klaxon.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # Off by default, as in Django: a check is one more round trip (SELECT 1) on every
        # request. After a database restart each worker answers one request with 503 (SCIM:
        # retried by the identity provider) and reconnects. docs/deployment.md.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, reading timestamps with psycopg's C loader (klaxon_site/db/postgresql).
    DATABASES["default"]["ENGINE"] = "klaxon_site.db.postgresql"
    if env_bool("DATABASE_TRANSACTION_POOLING", False):
        # Behind PgBouncer in transaction mode each transaction may run on another server
        # connection: no server-side prepared statements (psycopg prepares a query it has run
        # five times on its own connection) and no named cursors, which live in a session.
        DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), "prepare_threshold": None}
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Identity providers send requests in parallel: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock up front (no "database is locked" on
    # upgrade from a read lock) and the timeout makes a writer wait its turn.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, so that concurrency tests exercise WAL and locking for real.
    # One file per test process, so that parallel runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-klaxon-{os.getpid()}.sqlite3")}
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

# Throttle counters live in Django's cache, so it must be shared by every process and
# server: the database by default (no extra service), Redis or Memcached via CACHE_URL.
CACHES = {"default": cache_from_url(env_str("CACHE_URL", "db://klaxon_cache"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.OrganisationScopedBackend"]
# userName is unique per organisation, not globally; the backend above scopes sign-in.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Klaxon <no-reply@klaxon.io>")
# The SMTP backend's server (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend), and the
# file backend's folder.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
if env_str("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH")

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Request bodies beyond this are refused (SCIM answers 413); advertised as bulk.maxPayloadSize.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KLAXON_MAX_REQUEST_BYTES", 4 * 1024 * 1024)

REST_FRAMEWORK = {
    "UNAUTHENTICATED_USER": None,
}

# One JSON object per line in production (log shippers parse it), plain lines in development;
# both carry the request id and redact tokens, Authorization values, SCIM filters and phone numbers.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "klaxon_site.lib.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "klaxon_site.lib.logging.JsonFormatter"},
        "text": {"()": "klaxon_site.lib.logging.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Everything goes through the one redacting handler: drop Django's own console handler
        # (a duplicate under DEBUG) and runserver's request lines, which carry query strings.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": [], "level": "ERROR", "propagate": True},
    },
}
