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


@task
def chaos_body(log: str, seconds: float) -> None:
    """Log each body's start and end (one file per task) around a sleep."""
    import os

    with open(log, "a") as f:
        f.write(f"start {time.time()} {os.getpid()}\n")
    time.sleep(seconds)
    with open(log, "a") as f:
        f.write(f"end {time.time()} {os.getpid()}\n")
