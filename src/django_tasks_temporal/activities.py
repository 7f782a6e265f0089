"""The worker's activities: run one attempt of a Django task, and answer for it later.

`run_task_attempt` imports the task, sends Django's signals, calls the function (sync
functions in the worker's thread pool, truly in parallel, with Django's connection
hygiene around them; async ones on the worker's event loop) and returns its outcome as
data: the task's own exceptions never fail the activity, the workflow decides about
retries. While the function runs, the activity heartbeats; a cancel arrives the same
way. An attempt is cut short by its timeout, a cancel or the worker's shutdown; a sync
function then runs on in its thread, holding its body slot (see `slots.py`), and its
outcome and signals are dropped (see `attempts.py`).

If the server stops hearing from an attempt (an outage, a network cut), the attempt
runs to its end anyway, and the workflow asks this worker for its outcome through
`recover_attempt`, on a task queue only this worker polls. `find_attempt_holder` (a
local activity) reads from the history which worker that is.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from concurrent.futures import Executor
from datetime import UTC, datetime
from inspect import iscoroutinefunction

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.tasks.signals import task_finished, task_started
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from django_tasks_temporal import tracing
from django_tasks_temporal.attempts import Attempt, AttemptRegistry
from django_tasks_temporal.exceptions import TaskCancelled, TaskTimedOut
from django_tasks_temporal.metrics import TaskMetrics
from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
    FIND_HOLDER_ACTIVITY,
    RECOVER_ACTIVITY,
    WORKER_SHUTDOWN_ERROR,
    AttemptHolder,
    AttemptResult,
    FindHolderInput,
    ProgressRecord,
    RecoverAttemptInput,
    RecoverAttemptResult,
    RunAttemptInput,
)
from django_tasks_temporal.progress import current_attempt
from django_tasks_temporal.slots import BodySlots

logger = logging.getLogger("django_tasks_temporal.attempts")

# Progress reaches the server at most this often (seconds), however often it is reported.
PROGRESS_EVERY = 1.0


class TaskActivities:
    """The activities this worker registers; holds its identity, client, threads and slots."""

    def __init__(
        self,
        *,
        worker_id: str,
        executor: Executor,
        sender: type,
        client: Client,
        bodies: BodySlots,
        max_value_size: int,
        metrics: TaskMetrics | None = None,
        tracing: bool = False,
    ) -> None:
        self.worker_id = worker_id
        self.executor = executor
        self.sender = sender
        self.client = client
        self.bodies = bodies
        self.max_value_size = max_value_size
        self.metrics = metrics
        self.tracing = tracing
        self.registry = AttemptRegistry()
        self.started_at = datetime.now(UTC)

    # -- one attempt -------------------------------------------------------------------

    @activity.defn(name=ACTIVITY_NAME)
    async def run_task_attempt(self, request: RunAttemptInput) -> AttemptResult:
        attempt = Attempt(request, self.worker_id, self.max_value_size, self.metrics)
        run = self._run(attempt)
        outcome = attempt.finished = tracing.start_attempt(attempt, run, self.tracing)
        self.registry.start(attempt)
        heartbeats = asyncio.create_task(_heartbeat(request.task.heartbeat_timeout, attempt))
        try:
            while True:
                try:
                    return await asyncio.shield(outcome)
                except asyncio.CancelledError:
                    if not _server_gave_up():
                        break
                    # The server stopped waiting for this attempt (its heartbeats did not
                    # reach it): finish it anyway, for the workflow's recovery question.
            if activity.is_worker_shutdown():
                await self._abandon(attempt, None)
                raise ApplicationError(
                    f"Worker {self.worker_id!r} shut down before the attempt finished; "
                    "it runs again on another worker.",
                    type=WORKER_SHUTDOWN_ERROR,
                    non_retryable=True,
                    category=ApplicationErrorCategory.BENIGN,  # not logged as a failure
                )
            await self._abandon(attempt, TaskCancelled("The task was cancelled while it ran."))
            raise asyncio.CancelledError
        finally:
            heartbeats.cancel()

    async def _run(self, attempt: Attempt) -> AttemptResult:
        await self.bodies.acquire()
        if (ended := attempt.outcome) is not None:  # cut short while it waited for a slot
            self.bodies.release(abandoned=False)
            self.registry.finished(attempt, ended)
            return ended
        attempt.started_at = datetime.now(UTC)  # when its function starts, not its activity
        if self.metrics is not None:
            self.metrics.started(attempt)
        try:
            function: asyncio.Future[None] = (
                asyncio.ensure_future(self._call_async(attempt))
                if _is_async(attempt)
                else asyncio.get_running_loop().run_in_executor(
                    # In this context (the attempt's span, if traced), like an async one.
                    self.executor, contextvars.copy_context().run, self._call_sync, attempt
                )
            )
        except BaseException:
            self.bodies.release(abandoned=False)
            raise
        attempt.function = function
        # The slot is free only when the function has returned, whatever ended the attempt.
        function.add_done_callback(lambda _: self.bodies.release(abandoned=attempt.abandoned))
        done, _ = await asyncio.wait({function}, timeout=attempt.timeout)
        if not done:  # the attempt ends now; a thread runs on, keeping its slot
            error = TaskTimedOut(f"The attempt exceeded its timeout of {attempt.timeout:g}s.")
            await self._abandon(attempt, error)
        elif (bug := function.exception()) is not None:
            raise bug
        assert attempt.outcome is not None
        self.registry.finished(attempt, attempt.outcome)
        return attempt.outcome

    async def _abandon(self, attempt: Attempt, error: BaseException | None) -> None:
        """End the attempt while its function may run on: `error` is its outcome (and
        `task_finished` is sent), or None to drop it silently (the worker shuts down)."""
        function = attempt.function
        if function is not None and not function.done() and not attempt.abandoned:
            attempt.abandoned = True
            self.bodies.abandon()
            if isinstance(function, asyncio.Task):
                function.cancel()  # an async function is interrupted; a thread runs on
        attempt.handed_back = error is None
        claimed = attempt.claim(error=error or TaskCancelled("The worker shut down."))
        if claimed and error is not None:
            if attempt.retried:
                attempt.log_retry()
            await self._send_finished(attempt)

    async def _send_finished(self, attempt: Attempt) -> None:
        if attempt.result is not None:
            with contextlib.suppress(Exception):
                await task_finished.asend(sender=self.sender, task_result=attempt.result)

    def _call_sync(self, attempt: Attempt) -> None:
        close_old_connections()
        reporting = current_attempt.set(attempt)  # for report_progress, in this thread
        try:
            try:
                task = attempt.load()
                task_started.send(sender=self.sender, task_result=attempt.result)
                args, kwargs = attempt.call_args()
                value = attempt.checked_value(task.func(*args, **kwargs))
            except BaseException as e:
                if not attempt.claim(error=e):
                    return
                if not attempt.retried:
                    # Inside the handler: Django's task log line carries the traceback.
                    self._finished_sync(attempt)
                    return
            else:
                if not attempt.claim(value=value):
                    return
            if attempt.retried:
                attempt.log_retry()
            self._finished_sync(attempt)
        finally:
            current_attempt.reset(reporting)
            close_old_connections()

    def _finished_sync(self, attempt: Attempt) -> None:
        if attempt.result is None:
            _log_unloadable(attempt)
            return
        with contextlib.suppress(Exception):
            task_finished.send(sender=self.sender, task_result=attempt.result)

    async def _call_async(self, attempt: Attempt) -> None:
        await sync_to_async(close_old_connections)()
        current_attempt.set(attempt)  # for report_progress (this asyncio task's context)
        try:
            try:
                task = attempt.load()
                await task_started.asend(sender=self.sender, task_result=attempt.result)
                args, kwargs = attempt.call_args()
                value = attempt.checked_value(await task.func(*args, **kwargs))
            except asyncio.CancelledError:
                raise
            except BaseException as e:
                if not attempt.claim(error=e):
                    return
                if not attempt.retried:
                    await self._finished_async(attempt)
                    return
            else:
                if not attempt.claim(value=value):
                    return
            if attempt.retried:
                attempt.log_retry()
            await self._finished_async(attempt)
        finally:
            await sync_to_async(close_old_connections)()

    async def _finished_async(self, attempt: Attempt) -> None:
        if attempt.result is None:
            _log_unloadable(attempt)
            return
        with contextlib.suppress(Exception):
            await task_finished.asend(sender=self.sender, task_result=attempt.result)

    # -- answering for an attempt --------------------------------------------------------

    @activity.defn(name=RECOVER_ACTIVITY)
    async def recover_attempt(self, request: RecoverAttemptInput) -> RecoverAttemptResult:
        """The attempt's outcome, waiting for its function if it still runs here."""
        key = (request.workflow_id, request.attempt)
        attempt = self.registry.running.get(key)
        if attempt is None or attempt.finished is None:
            outcome = self.registry.outcome(key)
            if outcome is not None:
                return RecoverAttemptResult(outcome=outcome, ran_it=True)
            started = datetime.fromisoformat(request.started_at) if request.started_at else None
            # A process started after the attempt (same identity, e.g. pid 1 in a
            # container) did not run it: the worker that did is gone.
            return RecoverAttemptResult(ran_it=started is not None and started >= self.started_at)
        info = activity.info()
        timeout = info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else 10.0
        heartbeats = asyncio.create_task(_heartbeat(timeout))
        try:
            outcome = await asyncio.shield(attempt.finished)
        except asyncio.CancelledError:
            if not activity.is_worker_shutdown() and not _server_gave_up():
                await self._abandon(attempt, TaskCancelled("The task was cancelled while it ran."))
            raise
        finally:
            heartbeats.cancel()
        return RecoverAttemptResult(outcome=outcome, ran_it=True)

    @activity.defn(name=FIND_HOLDER_ACTIVITY)
    async def find_attempt_holder(self, request: FindHolderInput) -> AttemptHolder:
        """Who started an attempt, and when: its ActivityTaskStarted event in the history."""
        handle = self.client.get_workflow_handle(request.workflow_id, run_id=request.run_id)
        async for event in handle.fetch_history_events():
            if event.event_id == request.started_event_id:
                started = event.activity_task_started_event_attributes
                return AttemptHolder(
                    worker_id=started.identity,
                    started_at=event.event_time.ToDatetime(tzinfo=UTC).isoformat(),
                )
            if event.event_id > request.started_event_id:
                break
        return AttemptHolder()


async def _heartbeat(timeout: float, attempt: Attempt | None = None) -> None:
    """Heartbeat while the attempt runs: every `timeout / 3` seconds to show it is alive,
    and within a second of new progress, which travels as the heartbeat's details."""
    alive_every = max(0.1, timeout / 3)
    sent: ProgressRecord | None = None
    last = time.monotonic()
    while True:
        await asyncio.sleep(min(PROGRESS_EVERY, alive_every))
        progress = attempt.progress if attempt is not None else None
        if progress is not sent or time.monotonic() - last >= alive_every:
            activity.heartbeat(*(() if progress is None else (progress,)))
            sent, last = progress, time.monotonic()


def _server_gave_up() -> bool:
    """Cancelled because the server no longer knows the activity (its heartbeat timed out)."""
    details = activity.cancellation_details()
    return (
        details is not None
        and (details.not_found or details.timed_out)
        and not activity.is_worker_shutdown()
    )


def _is_async(attempt: Attempt) -> bool:
    try:
        task = attempt.load()
    except Exception:
        return False  # the sync path records why it does not load
    return iscoroutinefunction(task.func)


def _log_unloadable(attempt: Attempt) -> None:
    assert attempt.outcome is not None and attempt.outcome.error is not None
    logger.error(
        "Task id=%s path=%s could not be run: %s",
        attempt.request.workflow_id,
        attempt.request.task.task_path,
        attempt.outcome.error.traceback.rstrip().rpartition("\n")[2],
    )
