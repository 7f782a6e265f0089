"""Waiting for a task to finish: `wait_result()` and `await_result()`.

On a Temporal backend the wait is one long poll of the task's history for its close
event (no poll loop, no worker needed), then one read of the finished task. On other
backends (Django's test backends) the result is refreshed until it is finished.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from django.tasks import TaskResult, task_backends

if TYPE_CHECKING:
    AnyTaskResult = TaskResult[Any, Any]

# How often a non-Temporal backend's result is refreshed while waiting.
POLL_INTERVAL = 0.05


def _timed_out(result: AnyTaskResult, timeout: float | None) -> TimeoutError:
    return TimeoutError(f"Task {result.id!r} did not finish within {timeout:g}s.")


def wait_result(result: AnyTaskResult, *, timeout: float | None = None) -> AnyTaskResult:
    """Block until the task has finished; return its refreshed `TaskResult`.

    Raises `TimeoutError` when it has not finished within `timeout` seconds (None: wait
    as long as it takes) and `TaskResultDoesNotExist` when the task is unknown.
    """
    from django_tasks_temporal.backend import TemporalTaskBackend

    if result.is_finished:
        return result
    backend = task_backends[result.backend]
    if isinstance(backend, TemporalTaskBackend):
        return backend.wait_result(result.id, timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        fresh = backend.get_result(result.id)
        if fresh.is_finished:
            return fresh
        if deadline is not None and time.monotonic() >= deadline:
            raise _timed_out(result, timeout)
        time.sleep(POLL_INTERVAL)


async def await_result(result: AnyTaskResult, *, timeout: float | None = None) -> AnyTaskResult:
    """The async twin of `wait_result()`."""
    from django_tasks_temporal.backend import TemporalTaskBackend

    if result.is_finished:
        return result
    backend = task_backends[result.backend]
    if isinstance(backend, TemporalTaskBackend):
        return await backend.await_result(result.id, timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        fresh = await backend.aget_result(result.id)
        if fresh.is_finished:
            return fresh
        if deadline is not None and time.monotonic() >= deadline:
            raise _timed_out(result, timeout)
        await asyncio.sleep(POLL_INTERVAL)
