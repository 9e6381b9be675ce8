"""r1web settings, read from the environment.

With nothing set, r1web runs embedded: SQLite under ``var/`` and a Celery broker kept
in files under ``var/broker`` (no server to install). ``DATABASE_URL`` switches to
Postgres (psycopg 3) and ``CELERY_BROKER_URL`` to Redis.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
import plotly

from r1web.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("R1WEB_VAR_DIR", str(BASE_DIR / "var")))
MODELS_DIR = VAR_DIR / "models"
RUNS_DIR = VAR_DIR / "runs"
TINY_BASE_DIR = Path(envstr("R1WEB_TINY_BASE", str(MODELS_DIR / "tiny-base")))

SECRET_KEY = envstr("SECRET_KEY", "r1web-embedded-insecure-key-change-me")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "r1web.accounts",
    "r1web.runs",
    "r1web.traces",
    "r1web.datasets",
    "r1web.curation",
]

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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "runs:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
# plotly.js is served from the plotly package itself, never from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
WHITENOISE_USE_FINDERS = True  # serve without collectstatic in the embedded mode

# Celery. Stage tasks carry only a primary key; the database is the source of truth.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
    "loggers": {"r1web": {"level": envstr("LOG_LEVEL", "INFO")}, "workers": {"level": envstr("LOG_LEVEL", "INFO")}},
}
