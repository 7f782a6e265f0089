"""Runs one attempt of a Django task inside the worker: import, call, signals, DB, errors.

The activity never raises for the task's own exceptions: it returns them as data, with
the dotted class path and the real traceback, and the workflow decides about retries.
Sync tasks run in the worker's thread pool (truly in parallel, each with Django's
connection hygiene around it); async tasks run on the worker's event loop. It runs as a
local activity, in the worker holding the workflow task; see `workflows.py` for how a
worker that dies mid-attempt is noticed and its attempt recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime
from inspect import iscoroutinefunction
from traceback import format_exception
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils.json import normalize_json
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from django_tasks_temporal.exceptions import TaskCancelled, TaskTimedOut
from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
    WORKER_SHUTDOWN_ERROR,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    RunAttemptInput,
)
from django_tasks_temporal.results import (
    build_task_result,
    load_task,
    lost_attempts,
    parse_time,
    summarize,
)
from django_tasks_temporal.workflows import WORKER_LOST, is_lost, lost_attempt

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
        self.started_at = datetime.now(UTC)
        self.task: AnyTask | None = None
        self.result: AnyTaskResult | None = None

    def load(self) -> tuple[AnyTask, AnyTaskResult]:
        self.task = load_task(self.input.task, self.input.task.backend)
        records = [
            *self.input.previous_attempts,
            AttemptRecord(worker_id=self.worker_id, started_at=self.started_at.isoformat()),
        ]
        self.result = build_task_result(
            self.task,
            summarize(
                id=self.input.workflow_id,
                task_input=self.input.task,
                status=TaskResultStatus.RUNNING,
                enqueued_at=parse_time(self.input.task.enqueued_at),
                attempts=records,
            ),
        )
        return self.task, self.result

    def call_args(self) -> tuple[list[Any], dict[str, Any]]:
        assert self.task is not None and self.result is not None
        args = list(self.input.task.args)
        if self.task.takes_context:
            args.insert(0, TaskContext(task_result=self.result))
        return args, dict(self.input.task.kwargs)

    def finish(self, value: Any = None, error: BaseException | None = None) -> AttemptResult:
        finished_at = datetime.now(UTC)
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
    """The activity this worker registers; holds the worker's identity, client and threads."""

    def __init__(
        self, *, worker_id: str, executor: Executor, sender: type, client: Client, slots: int
    ) -> None:
        self.worker_id = worker_id
        self.executor = executor
        self.sender = sender
        self.client = client
        # How many attempts run at once in this process, whichever queue they came from
        # (max_concurrent_activities); an attempt waits here for its turn.
        self.slots = asyncio.Semaphore(slots)
        self._running: set[asyncio.Task[Any]] = set()
        self._abandoned = False

    def abandon_running(self) -> None:
        """Stop waiting for running attempts (shutdown grace is over): they run again
        on another worker, and a sync task's thread is left to die with the process."""
        self._abandoned = True
        for running in self._running:
            running.cancel()

    @activity.defn(name=ACTIVITY_NAME)
    async def run_task_attempt(self, attempt: RunAttemptInput) -> AttemptResult:
        current = asyncio.current_task()
        assert current is not None
        self._running.add(current)
        try:
            async with self.slots:
                return await self._attempt(attempt)
        except asyncio.CancelledError:
            if self._abandoned or activity.is_worker_shutdown():
                raise ApplicationError(
                    f"Worker {self.worker_id!r} shut down before the attempt finished.",
                    type=WORKER_SHUTDOWN_ERROR,
                    non_retryable=True,
                ) from None
            raise
        finally:
            self._running.discard(current)

    async def _attempt(self, attempt: RunAttemptInput) -> AttemptResult:
        lost = await find_lost_attempts(self.client, attempt)
        if lost:
            attempt = replace(attempt, previous_attempts=[*attempt.previous_attempts, *lost])
        if sum(map(is_lost, attempt.previous_attempts)) > attempt.task.max_lost_attempts:
            return replace(self._give_up(attempt), lost_attempts=lost)
        state = _Attempt(attempt, self.worker_id)
        try:
            result = await asyncio.wait_for(self._run(state), attempt.task.timeout)
        except TimeoutError:
            result = state.finish(
                error=TaskTimedOut(
                    f"The attempt exceeded its timeout of {attempt.task.timeout:g}s."
                )
            )
            await self._send_finished(state)
        except asyncio.CancelledError:
            if not (self._abandoned or activity.is_worker_shutdown()):
                state.finish(error=TaskCancelled("The attempt was cancelled."))
                await self._send_finished(state)
            raise
        return replace(result, lost_attempts=lost)

    async def _send_finished(self, state: _Attempt) -> None:
        """`task_finished` for an attempt cut short (timeout, cancel) outside the task."""
        if state.result is not None:
            with contextlib.suppress(Exception):
                await task_finished.asend(sender=self.sender, task_result=state.result)

    async def _run(self, state: _Attempt) -> AttemptResult:
        if _is_async(state.input):
            return await self._run_async(state)
        # A sync task cannot be interrupted: after a timeout or cancel its thread runs on
        # and its outcome is ignored.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._run_sync, state)

    def _give_up(self, attempt: RunAttemptInput) -> AttemptResult:
        now = datetime.now(UTC).isoformat()
        lost = sum(map(is_lost, attempt.previous_attempts))
        return AttemptResult(
            worker_id=self.worker_id,
            started_at=now,
            finished_at=now,
            succeeded=False,
            error=ErrorRecord(
                exception_class_path=WORKER_LOST,
                traceback=f"Not run again: {lost} workers were lost running this task "
                f"(max_lost_attempts is {attempt.task.max_lost_attempts}).\n",
            ),
        )

    def _run_sync(self, state: _Attempt) -> AttemptResult:
        close_old_connections()
        try:
            return self._call(state)
        finally:
            close_old_connections()

    def _call(self, state: _Attempt) -> AttemptResult:
        try:
            task, result = state.load()
            task_started.send(sender=self.sender, task_result=result)
            args, kwargs = state.call_args()
            value = normalize_json(task.func(*args, **kwargs))
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


def _is_async(attempt: RunAttemptInput) -> bool:
    try:
        task = load_task(attempt.task, attempt.task.backend)
    except Exception:
        return False  # the sync path records the import error
    return iscoroutinefunction(task.func)


async def find_lost_attempts(client: Client, attempt: RunAttemptInput) -> list[AttemptRecord]:
    """Attempts of this task whose worker died before reporting, since the last known one.

    Such an attempt leaves no result, only a workflow task that timed out or failed, and
    the workflow task running this attempt is its retry. In the very first workflow task
    (3 events: started, scheduled, started) nothing can have been lost, which is the
    common case and costs nothing. Otherwise one `describe` tells whether this workflow
    task is a retry; only then is the history read for the lost workers and times.
    """
    if attempt.history_length == FIRST_WORKFLOW_TASK_HISTORY_LENGTH:
        return []
    handle = client.get_workflow_handle(attempt.workflow_id)
    try:
        description = await handle.describe()
        retries = description.raw_description.pending_workflow_task.attempt - 1
        if retries <= 0:
            return []
        history = await handle.fetch_history()
    except RPCError as e:
        # Never fail a task over its own bookkeeping: run it, and let the lost
        # attempt (if any) go unrecorded.
        logger.warning("Could not check %s for lost attempts: %s", attempt.workflow_id, e)
        return []
    lost = lost_attempts(history.events, attempt.previous_attempts)
    # Temporal records only the first of consecutive workflow task failures: the
    # others are counted (for max_lost_attempts) without a known worker.
    for _ in range(retries - len(lost)):
        lost.append(lost_attempt("", None, None))
    return lost


FIRST_WORKFLOW_TASK_HISTORY_LENGTH = 3
