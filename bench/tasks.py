"""The benchmark's tasks (module-level, so a worker imports them by dotted path)."""

from __future__ import annotations

import time

from django.tasks import task


@task
def noop() -> None:
    return None


@task
def sleep(seconds: float = 0.1) -> None:
    time.sleep(seconds)
