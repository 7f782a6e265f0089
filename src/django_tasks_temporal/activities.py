"""Runs one attempt of a Django task inside the worker: import, call, signals, DB, errors.

The activity never raises for the task's own exceptions: it returns them as data, with
the dotted class path and the real traceback, and the workflow decides about retries.
Sync tasks run in the worker's thread pool (truly in parallel, each with Django's
connection hygiene around it); async tasks run on the worker's event loop. A heartbeat
keeps the attempt alive, so a worker that dies is noticed within `heartbeat_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from inspect import iscoroutinefunction
from traceback import format_exception
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from temporalio import activity
from temporalio.exceptions import ApplicationError

from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
    WORKER_SHUTDOWN_ERROR,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    RunAttemptInput,
)
from django_tasks_temporal.results import build_task_result, load_task, parse_time

if TYPE_CHECKING:
    AnyTask = Task[..., Any]
    AnyTaskResult = TaskResult[..., Any]


logger = logging.getLogger(__name__)


def _error(e: BaseException) -> ErrorRecord:
    cls = type(e)
    return ErrorRecord(
        exception_class_path=f"{cls.__module__}.{cls.__qualname__}",
        traceback="".join(format_exception(e)),
    )


class _Attempt:
    """One attempt's bookkeeping: the TaskResult the task and the signals see."""

    def __init__(self, attempt: RunAttemptInput, worker_id: str) -> None:
        self.input = attempt
        self.worker_id = worker_id
        self.started_at = timezone.now()
        self.task: AnyTask | None = None
        self.result: AnyTaskResult | None = None

    def load(self) -> tuple[AnyTask, AnyTaskResult]:
        self.task = load_task(self.input.task, self.input.task.backend)
        records = [
            *self.input.previous_attempts,
            AttemptRecord(worker_id=self.worker_id, started_at=self.started_at.isoformat()),
        ]
        self.result = build_task_result(
            task=self.task,
            id=self.input.workflow_id,
            task_input=self.input.task,
            status=TaskResultStatus.RUNNING,
            enqueued_at=parse_time(self.input.task.enqueued_at),
            attempts=records,
        )
        return self.task, self.result

    def call_args(self) -> tuple[list[Any], dict[str, Any]]:
        assert self.task is not None and self.result is not None
        args = list(self.input.task.args)
        if self.task.takes_context:
            args.insert(0, TaskContext(task_result=self.result))
        return args, dict(self.input.task.kwargs)

    def finish(self, value: Any = None, error: BaseException | None = None) -> AttemptResult:
        finished_at = timezone.now()
        if self.result is not None:
            status = TaskResultStatus.FAILED if error else TaskResultStatus.SUCCESSFUL
            object.__setattr__(self.result, "status", status)
            object.__setattr__(self.result, "finished_at", finished_at)
            object.__setattr__(self.result, "_return_value", value)
        record = _error(error) if error is not None else None
        if self.result is not None and record is not None:
            self.result.errors.append(
                TaskError(
                    exception_class_path=record.exception_class_path,
                    traceback=record.traceback,
                )
            )
        return AttemptResult(
            worker_id=self.worker_id,
            started_at=self.started_at.isoformat(),
            finished_at=finished_at.isoformat(),
            succeeded=error is None,
            return_value=value,
            error=record,
        )


class TaskActivities:
    """The activity this worker registers; holds the worker's identity and thread pool."""

    def __init__(self, *, worker_id: str, executor: Executor, sender: type) -> None:
        self.worker_id = worker_id
        self.executor = executor
        self.sender = sender

    @activity.defn(name=ACTIVITY_NAME)
    async def run_task_attempt(self, attempt: RunAttemptInput) -> AttemptResult:
        heartbeat = asyncio.create_task(self._heartbeat(attempt.task.heartbeat_timeout))
        try:
            if self._is_async(attempt):
                return await self._run_async(_Attempt(attempt, self.worker_id))
            loop = asyncio.get_running_loop()
            state = _Attempt(attempt, self.worker_id)
            return await loop.run_in_executor(self.executor, self._run_sync, state)
        except asyncio.CancelledError:
            if activity.is_worker_shutdown():
                raise ApplicationError(
                    f"Worker {self.worker_id!r} shut down before the attempt finished.",
                    type=WORKER_SHUTDOWN_ERROR,
                    non_retryable=True,
                ) from None
            raise
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, timeout: float) -> None:
        # The first beat waits a second: most tasks finish sooner and cost no heartbeat
        # RPC, while a silent attempt still times out (the timeout runs from the start).
        # The details name this worker, so the workflow knows who was lost.
        await asyncio.sleep(min(1.0, timeout / 3))
        while True:
            activity.heartbeat(self.worker_id)
            await asyncio.sleep(timeout / 3)

    @staticmethod
    def _is_async(attempt: RunAttemptInput) -> bool:
        try:
            task = load_task(attempt.task, attempt.task.backend)
        except Exception:
            return False  # the sync path records the import error
        return iscoroutinefunction(task.func)

    def _run_sync(self, state: _Attempt) -> AttemptResult:
        close_old_connections()
        try:
            return self._call(state, lambda task, args, kwargs: task.func(*args, **kwargs))
        finally:
            close_old_connections()

    def _call(
        self, state: _Attempt, invoke: Callable[[AnyTask, list[Any], dict[str, Any]], Any]
    ) -> AttemptResult:
        try:
            task, result = state.load()
            task_started.send(sender=self.sender, task_result=result)
            args, kwargs = state.call_args()
            value = normalize_json(invoke(task, args, kwargs))
        except BaseException as e:
            outcome = state.finish(error=e)
            if state.result is not None:
                task_finished.send(sender=self.sender, task_result=state.result)
            return outcome
        outcome = state.finish(value=value)
        task_finished.send(sender=self.sender, task_result=state.result)
        return outcome

    async def _run_async(self, state: _Attempt) -> AttemptResult:
        await sync_to_async(close_old_connections)()
        try:
            try:
                task, result = state.load()
                await task_started.asend(sender=self.sender, task_result=result)
                args, kwargs = state.call_args()
                value = normalize_json(await task.func(*args, **kwargs))
            except asyncio.CancelledError:
                raise
            except BaseException as e:
                outcome = state.finish(error=e)
                if state.result is not None:
                    with contextlib.suppress(Exception):
                        await task_finished.asend(sender=self.sender, task_result=state.result)
                return outcome
            outcome = state.finish(value=value)
            await task_finished.asend(sender=self.sender, task_result=state.result)
            return outcome
        finally:
            await sync_to_async(close_old_connections)()
