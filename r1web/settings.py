"""r1web settings, read from the environment.

With nothing set, r1web runs embedded: SQLite under ``var/`` and a Celery broker kept
in files under ``var/broker`` (no server to install). ``DATABASE_URL`` switches to
Postgres (psycopg 3) and ``CELERY_BROKER_URL`` to Redis.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import plotly
from csp.constants import NONE, SELF, UNSAFE_INLINE

from r1web.env import envbool, envheader, envint, envlist, envstr
from r1web.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("R1WEB_VAR_DIR", str(BASE_DIR / "var")))
MODELS_DIR = VAR_DIR / "models"
RUNS_DIR = VAR_DIR / "runs"
TINY_BASE_DIR = Path(envstr("R1WEB_TINY_BASE", str(MODELS_DIR / "tiny-base")))

DEBUG = envbool("DEBUG", False)
# Unset: a random key made once into VAR_DIR/secret_key. A placeholder or short key stops
# the process unless DEBUG is on.
SECRET_KEY = secret_key(value=envstr("SECRET_KEY", ""), var_dir=VAR_DIR, debug=DEBUG)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# Behind TLS (docker-compose sets these for the web service). Off by default: the embedded
# mode serves plain http on localhost, where secure cookies would never be sent back.
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Only behind a proxy that sets this header and drops the client's own copy of it.
SECURE_PROXY_SSL_HEADER = envheader("SECURE_PROXY_SSL_HEADER")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # Django's widget templates, for FORM_RENDERER below
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "r1web.accounts",
    "r1web.runs",
    "r1web.traces",
    "r1web.datasets",
    "r1web.curation",
    "r1web.audit",
    "r1web.ingest",
    "r1web.code",
]

# Widgets render through the project's engine (its cached loader, and templates/ can
# override a widget's template: traces/widgets/select.html).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "r1web.feedback.HtmxMessagesMiddleware",  # after messages and htmx: it uses both
    "csp.middleware.CSPMiddleware",
    # An application error a view let through becomes the page (or JSON) saying why.
    "r1web.errors.R1WebErrorMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "r1web.urls"
WSGI_APPLICATION = "r1web.wsgi.application"

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
                "r1web.accounts.context_processors.roles",
            ],
        },
    }
]


def _database() -> dict:
    url = envstr("DATABASE_URL", "")
    if url:
        config = dj_database_url.parse(url, conn_max_age=envint("DB_CONN_MAX_AGE", 60))
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "r1web.sqlite3"}
    if config["ENGINE"].endswith("sqlite3"):
        # The worker writes samples while the web server reads them: WAL lets readers
        # run beside the writer, and IMMEDIATE transactions avoid upgrade deadlocks.
        # Tests use a file, not memory, so that a worker process can share it.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# The throttle comes first: it refuses a locked-out username+address before any password
# is checked. Sign-ins from code (no request) are not throttled.
AUTHENTICATION_BACKENDS = [
    "r1web.accounts.backends.ThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("R1WEB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("R1WEB_LOGIN_COOLOFF_MINUTES", 15))
# A username is locked from one address only, so a guesser elsewhere cannot lock its
# owner out everywhere; an address trying many usernames is stopped by a limit of its own
# (r1web.accounts.backends.ThrottleHandler reads the two in this order).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "r1web.accounts.backends.ThrottleHandler"
R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT = envint("R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT", 20)
# Wrong API tokens from one address: past this many within the cool-off, the address
# gets 429 until the cool-off has passed (r1web.accounts.throttle).
R1WEB_API_TOKEN_FAILURE_LIMIT = envint("R1WEB_API_TOKEN_FAILURE_LIMIT", 20)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "r1web.accounts.backends.lockout_response"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "runs:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only: with translation on, every number a template prints looked up the active
# language in a context-local (a third of a 50-row table's render time, bench/demo_pages.py).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
# plotly.js is served from the plotly package itself, never from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
WHITENOISE_USE_FINDERS = True  # serve without collectstatic in the embedded mode

# Content Security Policy: scripts only from our own static files (htmx and plotly.js are
# served locally, templates hold no inline script). Styles also allow 'unsafe-inline':
# plotly.js adds <style> rules and style attributes as it draws (refused, its hover layer
# stops taking the pointer: tests/browser/test_csp.py), htmx adds its indicator style, and
# progress bars size themselves with a style attribute. A style runs no code, and using
# one against a page would first need markup injected, which escaping prevents.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Celery. Stage tasks carry only a primary key; the database is the source of truth.
# The file broker ignores the host, but without one kombu logs "No hostname was supplied"
# on every connection: in every command that queues a task.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = envstr("R1WEB_DEFAULT_QUEUE", "cpu")
# The queues a run may be sent to (a worker listens with -Q); anything else is refused.
R1WEB_QUEUES = envlist("R1WEB_QUEUES", ["cpu", "gpu"])
# A stage is long and precious: acknowledge it only when it ends, and hand it back to
# the broker if the worker process dies under it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Producer and consumer are different processes: both use one folder.
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
# A running stage writes a heartbeat; one silent for this long lost its worker.
R1WEB_HEARTBEAT_SECONDS = envint("R1WEB_HEARTBEAT_SECONDS", 10)
R1WEB_STALE_AFTER_SECONDS = envint("R1WEB_STALE_AFTER_SECONDS", 90)
# A worker sent SIGTERM hands its stage back at the next step boundary (workers.shutdown)
# and exits after this long at most, even if the stage never reaches one.
R1WEB_SHUTDOWN_SECONDS = envint("R1WEB_SHUTDOWN_SECONDS", 60)

# Dataset uploads: a file over the size or row limit is refused with a message; one over a
# task threshold is imported by a worker (on R1WEB_IMPORT_QUEUE) behind a progress page,
# so no web worker ever parses a large file.
R1WEB_UPLOAD_MAX_BYTES = envint("R1WEB_UPLOAD_MAX_BYTES", 512 * 2**20)
R1WEB_UPLOAD_MAX_ROWS = envint("R1WEB_UPLOAD_MAX_ROWS", 5_000_000)
R1WEB_UPLOAD_TASK_BYTES = envint("R1WEB_UPLOAD_TASK_BYTES", 5 * 2**20)
R1WEB_UPLOAD_TASK_ROWS = envint("R1WEB_UPLOAD_TASK_ROWS", 20_000)
R1WEB_IMPORT_QUEUE = envstr("R1WEB_IMPORT_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
# Rollout log imports (r1web.ingest: TRL parquet, verl dumps) share the upload limits and
# task thresholds above; no import takes more completions than this.
R1WEB_IMPORT_MAX_ROWS = envint("R1WEB_IMPORT_MAX_ROWS", 2_000_000)
# The ingestion API (r1web.ingest): the largest request body a training script may send.
R1WEB_INGEST_MAX_BYTES = envint("R1WEB_INGEST_MAX_BYTES", 64 * 2**20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
    "loggers": {"r1web": {"level": envstr("LOG_LEVEL", "INFO")}, "workers": {"level": envstr("LOG_LEVEL", "INFO")}},
}
