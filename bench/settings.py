"""Django settings for the benchmark's main process and its backend worker processes.

`bench/run.py` exports TEMPORAL_TARGET_HOST (its own dev server) and TEMPORAL_TASK_QUEUE
(a fresh prefix per run); every phase uses its own Django queue name under that prefix.
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
# Only the backend's app: the worker's RSS should show the backend, not other apps.
INSTALLED_APPS = ["django_tasks_temporal"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TASKS = {
    "default": {
        "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
        "QUEUES": [],  # any queue name: one per benchmark phase
        "OPTIONS": {
            "target_host": os.environ.get("TEMPORAL_TARGET_HOST", "127.0.0.1:7233"),
            "task_queue": os.environ.get("TEMPORAL_TASK_QUEUE", "bench"),
            "heartbeat_timeout": float(os.environ.get("BENCH_HEARTBEAT_TIMEOUT", "10")),
        },
    }
}
LOGGING_CONFIG = None
