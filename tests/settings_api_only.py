"""A slim API-only project: DRF and this app, without auth, contenttypes, admin or a database.

The Mounting chapter's minimum; tests/test_api_only_project.py runs it in a subprocess
(an app registry cannot lose django.contrib.auth once the test session loaded it).
"""

from __future__ import annotations

import os

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = ["rest_framework", "django_tasks_temporal"]
ROOT_URLCONF = "tests.urls_api_only"
TASKS = {
    "default": {
        "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
        "QUEUES": [],
        "OPTIONS": {
            "target_host": os.environ.get("TEMPORAL_TARGET_HOST", "127.0.0.1:7233"),
            "task_queue": os.environ.get("TEMPORAL_TASK_QUEUE", "django-tasks"),
            "connect_timeout": 2,
        },
    }
}
TASKS_API_OIDC_AUDIENCES = ["https://tasks.test"]
TASKS_API_ALLOWED_EMAILS = ["scheduler@tests.iam.gserviceaccount.com"]
TASKS_API_OIDC_CERTS_URL = "http://127.0.0.1:9/oauth2/v1/certs"
