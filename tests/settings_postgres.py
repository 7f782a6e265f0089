"""The test settings with a real PostgreSQL database, persistent connections on.

For worker processes started by tests/test_database_connections.py (POSTGRES_PORT).
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("POSTGRES_PORT", "5432"),
        "NAME": "tasks",
        "USER": "postgres",
        "CONN_MAX_AGE": 60,  # each thread keeps its connection: the case that matters
    }
}
