"""One settings module for every environment.

Everything comes from the environment, with defaults that run locally with nothing installed:
SQLite, media in ./var/media, and the private Redis that `manage.py serve_local` (the run
command) or the test suite starts. Production sets the variables listed in README.md.
"""
import os
from pathlib import Path

import dj_database_url
from csp import constants as csp_constants

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # the repository root
VAR_DIR = Path(os.environ.get("ANSWERPRINT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-local-only-" + "x" * 40

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' assets, served locally (no CDN)
    "channels",
    "csp",
    "answerprint",  # project-wide management commands (serve_local)
    "answerprint.accounts",
    "answerprint.audit",
    "answerprint.media",
    "answerprint.review",
    "answerprint.fixes",
    "answerprint.delivery",
    "answerprint.outbox",
]

MIDDLEWARE = [
    "answerprint.health.HealthMiddleware",  # /healthz and /readyz, before the HTTPS redirect and host check
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "answerprint.audit.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "answerprint.urls"
ASGI_APPLICATION = "answerprint.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
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
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'answerprint.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# API tokens (accounts/tokens.py): how long a new one lasts unless its owner says, and at most.
API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS", "365"))
# Every password check (log-in, admin, signing) goes through the lock-out (accounts/lockout.py).
AUTHENTICATION_BACKENDS = ["answerprint.accounts.backends.LockoutModelBackend"]
LOGIN_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("LOGIN_ACCOUNT_FAILURE_LIMIT", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT", "20"))
LOGIN_COOLDOWN_SECONDS = int(os.environ.get("LOGIN_COOLDOWN_SECONDS", "900"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "production-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
# Locally, static files are served straight from frontend/static (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Media is never served from a public URL: every byte goes through a permission-checked view.
MEDIA_URL = "/m/"
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {} if os.environ.get("MEDIA_STORAGE_BACKEND") else {"location": str(MEDIA_ROOT)},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
# When set (for example "/protected/"), media views answer with X-Accel-Redirect to this
# internal location after the permission check, and nginx sends the bytes.
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "")

UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(20 * 1024**3)))
# Bodies are capped per location before Django reads them (answerprint/bodylimit.py); only the
# upload locations take more than REQUEST_BODY_MAX_BYTES, and only from a signed-in caller.
REQUEST_BODY_MAX_BYTES = int(os.environ.get("REQUEST_BODY_MAX_BYTES", str(2 * 1024**2)))
CONSENT_UPLOAD_MAX_BYTES = int(os.environ.get("CONSENT_UPLOAD_MAX_BYTES", str(50 * 1024**2)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload streams to a temporary file, never to memory
FILE_UPLOAD_HANDLERS = ["answerprint.media.uploads.HashingUploadHandler"]
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or None

REDIS_URL = os.environ.get("REDIS_URL", "")
# Stored review-room operations one user may make across all their connections, per window (s).
REVIEW_WS_USER_OPS = (int(os.environ.get("REVIEW_WS_USER_OPS", "60")), 20.0)
# Rate-limit counts (answerprint/throttles.py) must be shared by every web process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": "answerprint-cache"}
          if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# channels-redis blocks up to 5 s in BZPOPMIN (RedisChannelLayer.brpop_timeout) on a quiet channel;
# a socket timeout at or under that turns every quiet second into a TimeoutError (redis-py 8
# defaults to 5 s). Set every timeout here so no redis-py default decides it; review.checks
# verifies the margin.
CHANNEL_LAYER_SOCKET_TIMEOUT = float(os.environ.get("CHANNEL_LAYER_SOCKET_TIMEOUT", "15"))
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{
                "address": REDIS_URL,
                "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                "socket_connect_timeout": 2.0,
                "socket_keepalive": True,
                "health_check_interval": 30,
            }],
            "capacity": 1000,
            "expiry": 30,
        },
    }
    if REDIS_URL
    # Without Redis only one process exists (management commands, some tests).
    else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}

# Celery. Queues: "default" for small work, "media" for ffmpeg, "gpu" for the fix models.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "answerprint.media.tasks.*": {"queue": "media"},
    "answerprint.fixes.job_tasks.*": {"queue": "gpu"},
    "answerprint.fixes.tasks.run_fix*": {"queue": "gpu"},
    "answerprint.delivery.tasks.build_*": {"queue": "media"},  # webhooks stay on "default"
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late a task not acknowledged within this window is delivered again: keep it above
# the longest job (ingest of a long 4K plate, a removal fit).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "14400"))}
# A fix job is stopped past this many seconds; the broker's visibility timeout must exceed it.
FIX_JOB_TIME_LIMIT = int(os.environ.get("FIX_JOB_TIME_LIMIT", "3600"))

# Notifications by e-mail: printed on the console unless a backend is configured (e.g.
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST, EMAIL_PORT, ...); links in them
# start with SITE_URL.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Answerprint <answerprint@localhost>")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Dotted path to a callable (user, code) -> None | bool | factor name that checks a signer's
# second factor; by default the TOTP authenticator and recovery codes of accounts/mfa.py.
SIGNATURE_SECOND_FACTOR_VERIFIER = os.environ.get("SIGNATURE_SECOND_FACTOR_VERIFIER",
                                                  "answerprint.accounts.mfa.verify_second_factor")
# Signing needs the password and a second factor; a signer without one is asked to enrol.
SIGNATURE_REQUIRES_SECOND_FACTOR = env_bool("SIGNATURE_REQUIRES_SECOND_FACTOR", default=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

FFMPEG_BINARY = os.environ.get("FFMPEG_BINARY", "")

# Audit checkpoints: signed with this Ed25519 key (PEM; `manage.py serve_local` makes one for the
# embedded default). Keys used before a rotation stay trusted if listed (raw public keys, hex).
AUDIT_SIGNING_KEY_FILE = Path(os.environ.get("AUDIT_SIGNING_KEY_FILE", VAR_DIR / "audit-signing-key.pem"))
AUDIT_TRUSTED_PUBLIC_KEYS = env_list("AUDIT_TRUSTED_PUBLIC_KEYS")
AUDIT_CHECKPOINT_MINUTES = int(os.environ.get("AUDIT_CHECKPOINT_MINUTES", "15"))
# RFC 3161: with a timestamp authority's URL each checkpoint's signature gets a timestamp token.
# Its certificate(s) (PEM or DER files) make verification check who issued a token; without
# them a token is checked for integrity only. Kept after the URL is removed, for old tokens.
AUDIT_TSA_URL = os.environ.get("AUDIT_TSA_URL", "")
AUDIT_TSA_CERTIFICATES = env_list("AUDIT_TSA_CERTIFICATES")
AUDIT_TSA_TIMEOUT = float(os.environ.get("AUDIT_TSA_TIMEOUT", "10"))
# Content Credentials (C2PA) on delivered media: the production's signing key and its certificate
# chain (leaf first, PEM), issued by a private CA. Unset, a development CA and leaf are made under
# VAR_DIR/c2pa on first use; never use those outside development.
C2PA_SIGNING_KEY_FILE = os.environ.get("C2PA_SIGNING_KEY_FILE", "")
C2PA_CERTIFICATE_CHAIN_FILE = os.environ.get("C2PA_CERTIFICATE_CHAIN_FILE", "")
C2PA_DEVELOPMENT_DIR = Path(os.environ.get("C2PA_DEVELOPMENT_DIR", VAR_DIR / "c2pa"))
# The outbox (answerprint/outbox): work recorded with the change that needs it is published
# again when no worker started it within OUTBOX_QUEUED_SECONDS of being due, or when the worker
# running it stopped heartbeating for OUTBOX_HEARTBEAT_SECONDS. The sweep runs this often.
OUTBOX_QUEUED_SECONDS = int(os.environ.get("OUTBOX_QUEUED_SECONDS", "120"))
OUTBOX_HEARTBEAT_SECONDS = int(os.environ.get("OUTBOX_HEARTBEAT_SECONDS", "60"))
OUTBOX_HEARTBEAT_INTERVAL_SECONDS = float(os.environ.get("OUTBOX_HEARTBEAT_INTERVAL_SECONDS", "15"))
OUTBOX_SWEEP_SECONDS = float(os.environ.get("OUTBOX_SWEEP_SECONDS", "30"))
# /readyz answers 503 past these (see answerprint/health.py).
READYZ_MAX_QUEUE_DEPTH = int(os.environ.get("READYZ_MAX_QUEUE_DEPTH", "1000"))
READYZ_MAX_STALE_TASKS = int(os.environ.get("READYZ_MAX_STALE_TASKS", "0"))
READYZ_MAX_UNSEALED_SECONDS = int(os.environ.get("READYZ_MAX_UNSEALED_SECONDS", "120"))
# PDF reports: TrueType fonts in fallback order, so every script a name may be written in prints
# (Debian fonts-dejavu-core, fonts-lohit-deva, fonts-droid-fallback; `make setup` installs them).
AUDIT_REPORT_FONTS = env_list("AUDIT_REPORT_FONTS") or [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Latin, Greek, Cyrillic
    "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf",  # Devanagari
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # Chinese, Japanese, Korean
]
AUDIT_REPORT_BOLD_FONTS = env_list("AUDIT_REPORT_BOLD_FONTS") or ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]
CELERY_BEAT_SCHEDULE = {
    "outbox-resend-stale": {
        "task": "answerprint.outbox.tasks.resend_stale",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
    "audit-checkpoint": {
        "task": "answerprint.audit.tasks.make_checkpoint",
        "schedule": AUDIT_CHECKPOINT_MINUTES * 60.0,
    },
    # Writers seal right after commit; this seals what a writer that died in between, or one
    # that left its events to a sealer finishing at that instant, left pending.
    "audit-seal": {
        "task": "answerprint.audit.tasks.seal_events",
        "schedule": 10.0,
    },
    # Webhook deliveries are rows (an outbox): this sends the due ones and the retries.
    "webhooks-sweep": {
        "task": "answerprint.delivery.tasks.sweep_webhooks",
        "schedule": 15.0,
    },
    # Presence of connections whose web process died: gone once they stop heartbeating.
    "review-expire-presence": {
        "task": "answerprint.review.tasks.expire_presence",
        "schedule": 30.0,
    },
    # Compliance's export schedules (daily, weekly, monthly): each due one is made and stored.
    "audit-scheduled-exports": {
        "task": "answerprint.audit.tasks.run_scheduled_exports",
        "schedule": 300.0,
    },
}

# Content-Security-Policy (django-csp): scripts and <style> blocks only from this origin or with
# the response's nonce ({{ request.csp_nonce }}); style attributes stay allowed (the templates
# and the canvas tools position things with them). WebSockets are same-origin ('self').
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src-attr": [csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:", "blob:"],
        "media-src": [csp_constants.SELF, "blob:"],
        "connect-src": [csp_constants.SELF],
        "font-src": [csp_constants.SELF],
        "worker-src": [csp_constants.SELF, "blob:"],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so that an unauthenticated call gets 401 with WWW-Authenticate, not 403.
        "answerprint.accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "answerprint.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["answerprint.throttles.UserWriteThrottle",
                                 "answerprint.throttles.ProductionWriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user_writes": os.environ.get("THROTTLE_USER_WRITES", "120/minute"),
        "production_writes": os.environ.get("THROTTLE_PRODUCTION_WRITES", "1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Answerprint API",
    "DESCRIPTION": "Productions, shots, versions, media ingest and review for AI-proposed fixes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # One name per choice set: several models have a "kind", "state" or "status" of their own.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "answerprint.accounts.models.Role",
        "ShotStatusEnum": "answerprint.media.models.ShotStatus",
        "VersionKindEnum": "answerprint.media.models.VersionKind",
        "VersionStateEnum": "answerprint.media.models.VersionState",
        "AssetStatusEnum": "answerprint.media.models.AssetStatus",
        "RoomKindEnum": "answerprint.review.models.RoomKind",
        "ShapeKindEnum": "answerprint.review.models.ShapeKind",
        "FixKindEnum": "answerprint.fixes.kinds.kind_choices",
        "FixRequestStateEnum": "answerprint.fixes.models.RequestState",
        "JobStateEnum": "answerprint.fixes.models.JobState",
        "ProposalStateEnum": "answerprint.fixes.models.ProposalState",
        "DecisionOutcomeEnum": "answerprint.fixes.models.Outcome",
        "SignatureMeaningEnum": "answerprint.fixes.models.Meaning",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Sessions: an absolute limit and an inactivity limit (the session is renewed on each request).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
