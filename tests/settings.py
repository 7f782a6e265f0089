"""Settings for the test suite; TASKS points at the dev server the session starts."""

from __future__ import annotations

import json
import os
import tempfile

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_tasks_temporal",
    "tests",
]
ROOT_URLCONF = "tests.urls"
# A file, not ":memory:", so worker threads and subprocesses see the same database.
# One file per test session (inherited by the workers it spawns), so runs can share a machine.
if "TESTS_DB_NAME" not in os.environ:
    os.environ["TESTS_DB_NAME"] = os.path.join(tempfile.mkdtemp(prefix="dtt-tests-"), "db.sqlite3")
_DB = os.environ["TESTS_DB_NAME"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _DB,
        "TEST": {"NAME": _DB + ".test"},
    }
}
TASKS = {
    "default": {
        "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
        "QUEUES": [],
        "OPTIONS": {
            "target_host": os.environ.get("TEMPORAL_TARGET_HOST", "127.0.0.1:7233"),
            "task_queue": os.environ.get("TEMPORAL_TASK_QUEUE", "django-tasks"),
            "heartbeat_timeout": 2,
            "connect_timeout": 2,
            # Subprocesses (manage.py sync_temporal_schedules) get a test's declarations.
            "schedules": json.loads(os.environ.get("TEMPORAL_SCHEDULES", "null")),
        },
    }
}

# The trigger service, open to the identities in tests/oidc.py. Nothing listens on the
# discard port: a test that verifies tokens serves its own certificates (tests/oidc.py).
TASKS_API_OIDC_AUDIENCES = ["https://tasks.test"]
TASKS_API_ALLOWED_EMAILS = ["scheduler@tests.iam.gserviceaccount.com"]
TASKS_API_ENDPOINT_EMAILS = {"status": ["reader@tests.example"]}
TASKS_API_OIDC_CERTS_URL = "http://127.0.0.1:9/oauth2/v1/certs"

# The admin pages and their browser tests (appended, so other apps' settings merge easily).
INSTALLED_APPS += [
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
STATIC_URL = "static/"
