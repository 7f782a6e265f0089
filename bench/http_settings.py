"""Settings for the HTTP benchmark's web server: bench/settings.py plus the trigger service."""

from __future__ import annotations

import os

from bench.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_tasks_temporal",
]
ROOT_URLCONF = "bench.http_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
TASKS_API_OIDC_AUDIENCES = ["https://bench.test"]
TASKS_API_ALLOWED_EMAILS = ["bench@bench.iam.gserviceaccount.com"]
TASKS_API_OIDC_CERTS_URL = os.environ.get("BENCH_CERTS_URL", "http://127.0.0.1:9/")
TASKS_API_STATUS_CACHE_SECONDS = float(os.environ.get("BENCH_STATUS_CACHE_SECONDS", "2"))
# POST tasks/enqueue/noop/ (bench/enqueue_bench.py): a Pub/Sub push starts bench.tasks.noop
# on a queue no worker serves, as the other side's enqueue() does.
TASKS_API_ENQUEUE = {
    "noop": {"task": "bench.tasks.noop", "format": "pubsub", "queue_name": "enqueue-bench"},
}
