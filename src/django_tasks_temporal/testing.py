"""Drop-in test backends: Django's `ImmediateBackend` and `DummyBackend`, plus this
package's per-task options.

Both accept tasks declared with `max_attempts` and `timeout` (their task class is
`TemporalTask`, so even Django's own `@task(max_attempts=3)` works with them).
`ImmediateBackend` also honours them: a failing task runs again at once, up to its
`max_attempts` (OPTIONS["max_attempts"] by default, else 1), each attempt is reported
with `task_finished` as the Temporal backend does (READY while a retry follows), and an
attempt longer than its `timeout` fails with `TaskTimedOut` (a sync function runs on in
its thread; its outcome is dropped).

    TASKS = {"default": {"BACKEND": "django_tasks_temporal.testing.ImmediateBackend"}}
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from inspect import iscoroutinefunction
from traceback import format_exception
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.tasks import TaskContext, TaskResult, TaskResultStatus
from django.tasks.backends.dummy import DummyBackend as DjangoDummyBackend
from django.tasks.backends.immediate import ImmediateBackend as DjangoImmediateBackend
from django.tasks.base import TaskError
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from django_tasks_temporal.exceptions import TaskTimedOut
from django_tasks_temporal.tasks import TemporalTask

if TYPE_CHECKING:
    AnyTaskResult = TaskResult[Any, Any]

__all__ = ["DummyBackend", "ImmediateBackend"]


class DummyBackend(DjangoDummyBackend):
    """Django's DummyBackend (keeps enqueued results, runs nothing), for `TemporalTask`s."""

    task_class = TemporalTask


class ImmediateBackend(DjangoImmediateBackend):
    """Django's ImmediateBackend, honouring `max_attempts` and `timeout`."""

    task_class = TemporalTask

    def _execute_task(self, task_result: AnyTaskResult) -> None:
        object.__setattr__(task_result, "enqueued_at", timezone.now())
        task_enqueued.send(type(self), task_result=task_result)
        task = task_result.task
        max_attempts = getattr(task, "max_attempts", None) or self.options.get("max_attempts", 1)
        for attempt in range(1, max_attempts + 1):
            started = timezone.now()
            if task_result.started_at is None:
                object.__setattr__(task_result, "started_at", started)
            object.__setattr__(task_result, "last_attempted_at", started)
            object.__setattr__(task_result, "status", TaskResultStatus.RUNNING)
            task_result.worker_ids.append(self.worker_id)
            task_started.send(sender=type(self), task_result=task_result)
            try:
                value = normalize_json(self._call(task_result))
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                task_result.errors.append(
                    TaskError(
                        exception_class_path=f"{type(e).__module__}.{type(e).__qualname__}",
                        traceback="".join(format_exception(e)),
                    )
                )
                if attempt == max_attempts:
                    object.__setattr__(task_result, "finished_at", timezone.now())
                    object.__setattr__(task_result, "status", TaskResultStatus.FAILED)
                    task_finished.send(type(self), task_result=task_result)
                    return
            else:
                object.__setattr__(task_result, "_return_value", value)
                object.__setattr__(task_result, "finished_at", timezone.now())
                object.__setattr__(task_result, "status", TaskResultStatus.SUCCESSFUL)
                task_finished.send(type(self), task_result=task_result)
                return
            # A retry follows: what the Temporal backend reports between attempts.
            object.__setattr__(task_result, "status", TaskResultStatus.READY)
            task_finished.send(type(self), task_result=task_result)

    def _call(self, task_result: AnyTaskResult) -> Any:
        task = task_result.task
        args = list(task_result.args)
        if task.takes_context:
            args.insert(0, TaskContext(task_result=task_result))
        timeout = getattr(task, "timeout", None) or self.options.get("timeout")
        if iscoroutinefunction(task.func):

            async def call() -> Any:
                return await asyncio.wait_for(task.func(*args, **task_result.kwargs), timeout)

            try:
                return async_to_sync(call)()
            except TimeoutError:
                raise TaskTimedOut(f"The attempt exceeded its timeout of {timeout:g}s.") from None
        if timeout is None:
            return task.func(*args, **task_result.kwargs)
        # A thread of its own, never waited for after the timeout (like the worker's).
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="test-task")
        try:
            return pool.submit(task.func, *args, **task_result.kwargs).result(timeout)
        except concurrent.futures.TimeoutError:
            raise TaskTimedOut(f"The attempt exceeded its timeout of {timeout:g}s.") from None
        finally:
            pool.shutdown(wait=False)
