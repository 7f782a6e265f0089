"""Module-level tasks the tests enqueue (a worker imports them by dotted path)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from django.tasks import TaskContext, task


class TaskBoom(Exception):
    pass


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


@task
def fail(message: str = "boom") -> None:
    raise TaskBoom(message)


@task
def fail_unless_exists(path: str) -> str:
    """Fails until `path` exists (a retry after the file appears succeeds)."""
    if not os.path.exists(path):
        raise TaskBoom(f"{path} does not exist")
    return "found"


@task(max_attempts=3)
def fail_twice_then_succeed(marker_dir: str) -> int:
    marker = os.path.join(marker_dir, "attempts")
    count = int(open(marker).read()) + 1 if os.path.exists(marker) else 1
    with open(marker, "w") as f:
        f.write(str(count))
    if count < 3:
        raise TaskBoom(f"attempt {count}")
    return count


@task
def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return threading.current_thread().name


@task
async def async_sleep(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "async"


@task
async def async_add(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def context_info(context: TaskContext) -> dict[str, Any]:
    result = context.task_result
    return {"id": result.id, "attempt": context.attempt, "worker_ids": result.worker_ids}


@task(takes_context=True)
def record_order(context: TaskContext, path: str, label: str) -> None:
    with open(path, "a") as f:
        f.write(f"{label}\n")
    time.sleep(0.05)


@task(takes_context=True)
def wait_for_file(context: TaskContext, path: str, timeout: float = 60) -> dict[str, Any]:
    """Announce the attempt, then block until `path` exists (lets a test kill the worker)."""
    with open(path + ".started", "a") as f:
        f.write(f"{context.attempt}\n")
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"attempt": context.attempt, "worker_ids": context.task_result.worker_ids}


@task
def returns_object() -> object:
    return object()


@task
def count_users() -> int:
    from django.contrib.auth.models import User

    return User.objects.count()


@task
def connection_state() -> dict[str, bool]:
    """Whether this thread starts with a closed connection; then use the database."""
    from django.contrib.auth.models import User
    from django.db import connection

    was_closed = connection.connection is None
    User.objects.count()
    return {"was_closed": was_closed}


@task
def noop() -> None:
    return None


@task
def sleep_then_return(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


@task
def record_start_and_sleep(path: str, seconds: float) -> str:
    """Append a line per start of the body to `path`, then sleep: counts bodies run."""
    with open(path, "a") as f:
        f.write(f"{time.time()}\n")
    time.sleep(seconds)
    return "slept"


@task
def big_value(size: int) -> str:
    return "x" * size


@task
def fail_with_big_message(size: int) -> None:
    raise TaskBoom("y" * size)


def _logged_sleep(log: str, seconds: float) -> None:
    """Log when the body starts and ends, around a sleep (see conftest.most_bodies_at_once)."""
    with open(log, "a") as f:
        f.write(f"start {time.time()}\n")
    time.sleep(seconds)
    with open(log, "a") as f:
        f.write(f"end {time.time()}\n")


@task(max_attempts=2, timeout=1)
def outlives_its_timeout(log: str, seconds: float) -> None:
    """Sync, so its timeout cannot interrupt it: it runs on after its attempt ended."""
    _logged_sleep(log, seconds)


@task
def log_body(log: str, seconds: float) -> None:
    _logged_sleep(log, seconds)


@task
def use_database(seconds: float) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    time.sleep(seconds)


@task
def report_steps(steps: int, pause: float) -> str:
    from django_tasks_temporal import report_progress

    for done in range(1, steps + 1):
        time.sleep(pause)
        report_progress(done=done, total=steps, message=f"step {done}")
    return "reported"


@task
def report_a_lot(reports: int, seconds: float) -> None:
    from django_tasks_temporal import report_progress

    for i in range(reports):
        report_progress(i / reports, message="busy")
        time.sleep(seconds / reports)


@task
async def report_async(steps: int) -> None:
    from django_tasks_temporal import report_progress

    for done in range(1, steps + 1):
        await asyncio.sleep(0.5)
        report_progress(done=done, total=steps)


@task(takes_context=True)
def report_then_wait(context: TaskContext, path: str, done: int, total: int, message: str) -> None:
    """Report some progress, then block until `path` exists."""
    from django_tasks_temporal import report_progress

    report_progress(done=done, total=total, message=message)
    deadline = time.monotonic() + 120
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


@task
def current_span() -> str:
    """The id of the OpenTelemetry span the task body runs in (tests of tracing)."""
    from opentelemetry import trace

    return format(trace.get_current_span().get_span_context().span_id, "016x")
