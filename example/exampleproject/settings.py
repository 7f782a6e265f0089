"""Settings for the example shop: a plain Django 6.1 project using the Temporal backend.

The Temporal connection comes from the environment, so the same settings serve the demo
(which starts its own dev server), `just worker` next to `just devserver`, and a real
deployment:

    TEMPORAL_TARGET_HOST  the Temporal frontend, host:port (default "localhost:7233")
    TEMPORAL_NAMESPACE    the Temporal namespace (default "default")
    TEMPORAL_TASK_QUEUE   the task queue for Django's "default" queue (default "django-tasks")
    TEMPORAL_API_KEY      a Temporal Cloud API key (default: none; TLS follows it)
    TEMPORAL_UI_URL       the Temporal Web UI, linked from the admin (default none)

and so do the web app's deployment settings:

    DJANGO_SECRET_KEY, DJANGO_DEBUG ("1" or "0"), DJANGO_ALLOWED_HOSTS (comma-separated)
    DATABASE_URL          postgres://user:password@host:port/name (default: SQLite file)
    TASKS_API_OIDC_AUDIENCES   comma-separated `aud` values the trigger endpoints accept
    TASKS_API_ALLOWED_EMAILS   comma-separated identities allowed on every endpoint
    TASKS_API_STATUS_EMAILS    comma-separated identities allowed only to read status
    TASKS_API_ENQUEUE_EMAILS   comma-separated identities allowed only on enqueue/<name>/
                               (a Pub/Sub push subscription's or Eventarc trigger's account)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _database(url: str | None) -> dict[str, Any]:
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a postgres:// URL, got scheme {parts.scheme!r}.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


# An example project only: never deploy with this key or with DEBUG on.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-shop-not-for-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS: list[str] = _csv(os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_tasks_temporal",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exampleproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "exampleproject.wsgi.application"

DATABASES = {"default": _database(os.environ.get("DATABASE_URL"))}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Receipts are "sent" to the worker's console.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.console.EmailBackend",
    },
}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
        # An empty list allows any queue name (Django's rule).
        "QUEUES": [],
        "OPTIONS": {
            "target_host": os.environ.get("TEMPORAL_TARGET_HOST", "localhost:7233"),
            "namespace": os.environ.get("TEMPORAL_NAMESPACE", "default"),
            "task_queue": os.environ.get("TEMPORAL_TASK_QUEUE", "django-tasks"),
            "api_key": os.environ.get("TEMPORAL_API_KEY") or None,
            # Tasks on the "nightly" queue wait until a trigger (Cloud Scheduler calling
            # POST /tasks/run/, or the admin) releases them.
            "trigger_queues": ["nightly"],
        },
    }
}

# The HTTP trigger service (POST /tasks/run/ ...): Google-signed OIDC ID tokens only.
# With no audience or no allowed identity, every endpoint answers 403 (closed).
TASKS_API_OIDC_AUDIENCES = _csv(os.environ.get("TASKS_API_OIDC_AUDIENCES", ""))
TASKS_API_ALLOWED_EMAILS = _csv(os.environ.get("TASKS_API_ALLOWED_EMAILS", ""))
TASKS_API_ENDPOINT_EMAILS = {
    "status": _csv(os.environ.get("TASKS_API_STATUS_EMAILS", "")),
    "enqueue": _csv(os.environ.get("TASKS_API_ENQUEUE_EMAILS", "")),
}

# Events that start tasks, once per delivery: POST /tasks/enqueue/<name>/ (docs/webhooks.md).
_ORDER_ITEM = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "price_cents": {"type": "integer"},
        "quantity": {"type": "integer"},
    },
    "required": ["name", "price_cents", "quantity"],
}
TASKS_API_ENQUEUE = {
    # The payment provider's webhook: {"kwargs": {...}} with an Idempotency-Key header.
    "order-paid": {
        "task": "shop.tasks.send_receipt",
        "format": "json",
        "schema": {
            "type": "object",
            "properties": {
                "order_id": {"type": "integer"},
                "email": {"type": "string"},
                "items": {"type": "array", "items": _ORDER_ITEM},
            },
            "required": ["order_id", "email", "items"],
        },
    },
    # A Pub/Sub push subscription (cloudbuild.yaml's `pubsub` step): data {"skus": [...]}.
    "stock-check": {
        "task": "shop.tasks.check_stock",
        "format": "pubsub",
        "schema": {
            "type": "object",
            "properties": {"skus": {"type": "array", "items": {"type": "string"}}},
            "required": ["skus"],
        },
    },
    # An Eventarc trigger on a Cloud Storage bucket: the whole CloudEvent as one argument.
    "report-uploaded": {
        "task": "shop.tasks.import_report",
        "format": "cloudevents",
        "arguments": "event",
        "schema": {
            "type": "object",
            "properties": {"bucket": {"type": "string"}, "name": {"type": "string"}},
            "required": ["bucket", "name"],
        },
    },
}

# `manage.py spectacular` (`just schema`) writes the trigger service's schema to openapi/.
SPECTACULAR_SETTINGS = {
    "TITLE": "django-tasks-temporal trigger service",
    "DESCRIPTION": (
        "Release, run, inspect and purge Django tasks that run on Temporal. Every request "
        "carries a Google-signed OIDC ID token as a bearer token."
    ),
    "VERSION": "0.2.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # One schema per enum name, not per serializer field using it.
    "ENUM_NAME_OVERRIDES": {"TaskStatusEnum": "django.tasks.TaskResultStatus"},
}

# The admin links each task to the Temporal Web UI when this is set.
TASKS_ADMIN_TEMPORAL_UI_URL = os.environ.get("TEMPORAL_UI_URL") or None
