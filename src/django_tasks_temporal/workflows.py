"""The life of one Django task as a Temporal workflow: wait, release, attempts, retries.

Runs in Temporal's sandbox and imports nothing of Django: each attempt is the regular
activity `ACTIVITY_NAME` (see `activities.py`), called by name on the task's queue, so
any free worker takes it. An attempt lives as long as its worker heartbeats, whatever
its length, and costs the same five history events whether it takes a millisecond or a
week (heartbeats are not history events).

When an attempt's heartbeats stop reaching the server, this is the one place that
decides what happened. The worker that started it (read from the history) is asked on
its own task queue: a live worker answers with the attempt's real outcome, waiting for
the body if it still runs (a server outage or a network cut, not a lost worker); no
answer within `RECOVERY_WAIT` means the worker died, and the attempt runs again. Such
interruptions are kept in the task's record and never use up `max_attempts`;
`max_lost_attempts` stops a task that keeps killing its workers.

Attempts are kept in workflow state and published where a reader needs no worker: in
the memo after an attempt that did not end the task, and in the result (or failure).
"""

from __future__ import annotations

import builtins
import contextlib
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    is_cancelled_exception,
)

from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
    ATTEMPT_CRASHED,
    ATTEMPTS_LOST_METRIC,
    ATTEMPTS_MEMO,
    FIND_HOLDER_ACTIVITY,
    INTERRUPTIONS,
    OUTCOME_LOST,
    RECOVER_ACTIVITY,
    RELEASE_SIGNAL,
    WORKER_LOST,
    WORKER_SHUT_DOWN,
    WORKER_SHUTDOWN_ERROR,
    WORKFLOW_NAME,
    AttemptHolder,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    FindHolderInput,
    RecoverAttemptInput,
    RecoverAttemptResult,
    ReleaseInput,
    RunAttemptInput,
    RunTaskInput,
    TaskOutcome,
    compact_attempts,
    recovery_task_queue,
)
from django_tasks_temporal.search_attributes import RELEASED, TASK_STATE

# The worker enforces the task's own timeout; an attempt is otherwise bounded only by
# its heartbeats, and Temporal needs some start-to-close timeout.
UNBOUNDED = timedelta(days=3650)
# How long a live worker gets to pick up the question about an attempt it started.
RECOVERY_WAIT = timedelta(seconds=3)
NO_RETRIES = RetryPolicy(maximum_attempts=1)


@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[Exception])
class RunTaskWorkflow:
    """Any exception in this code (a bug, a payload refused, nondeterminism after a deploy)
    fails the task with its reason instead of retrying the workflow task forever."""

    def __init__(self) -> None:
        self._released = False
        self._forced = False
        self._attempts: list[AttemptRecord] = []

    @workflow.signal(name=RELEASE_SIGNAL)
    def release(self, request: ReleaseInput) -> None:
        """Let a waiting task run; duplicates are harmless."""
        self._released = True
        self._forced = self._forced or request.force

    @workflow.run
    async def run(self, task: RunTaskInput) -> TaskOutcome:
        if not task.enqueued_at:  # started by a Temporal Schedule
            task = replace(task, enqueued_at=workflow.info().start_time.isoformat())
        self._attempts = list(task.earlier_attempts)
        earlier = len(self._attempts)
        if task.wait_for_release:
            await workflow.wait_condition(lambda: self._released)
            workflow.upsert_search_attributes([TASK_STATE.value_set(RELEASED)])
        await self._wait_for_run_after(task)
        while True:
            result = await self._attempt(task)
            self._attempts = compact_attempts([*self._attempts, result.record()])
            if result.succeeded:
                return TaskOutcome(return_value=result.return_value, attempts=self._attempts)
            this_run = self._attempts[earlier:]
            failures = sum(not _interrupted(a) for a in this_run if a.error is not None)
            lost = sum(_lost(a) for a in this_run)
            if lost > task.max_lost_attempts:
                self._attempts[-1] = _given_up(self._attempts[-1], lost, task)
            if failures >= task.retry.max_attempts or lost > task.max_lost_attempts:
                raise self._failure(task, lost)
            workflow.upsert_memo({ATTEMPTS_MEMO: self._attempts})
            if not _interrupted(self._attempts[-1]):
                await workflow.sleep(task.retry.backoff(failures))

    def _failure(self, task: RunTaskInput, lost: int) -> ApplicationError:
        error = self._attempts[-1].error
        assert error is not None
        message = f"Task {task.task_path} failed after {len(self._attempts)} attempt(s): "
        if lost > task.max_lost_attempts:
            message += (
                f"{lost} workers were lost running it "
                f"(max_lost_attempts is {task.max_lost_attempts})"
            )
        else:
            message += error.exception_class_path
        return ApplicationError(
            message, self._attempts, type=error.exception_class_path, non_retryable=True
        )

    async def _wait_for_run_after(self, task: RunTaskInput) -> None:
        if task.run_after is None or self._forced:
            return
        delay = datetime.fromisoformat(task.run_after) - workflow.now()
        if delay > timedelta(0):
            # Times out when run_after comes; returns early when a trigger forces it.
            with contextlib.suppress(builtins.TimeoutError):
                await workflow.wait_condition(lambda: self._forced, timeout=delay)

    async def _attempt(self, task: RunTaskInput) -> AttemptResult:
        number = len(self._attempts) + 1
        scheduled_at = workflow.now().isoformat()
        try:
            result: AttemptResult = await workflow.execute_activity(
                ACTIVITY_NAME,
                RunAttemptInput(
                    task=task,
                    workflow_id=workflow.info().workflow_id,
                    attempt=number,
                    previous_attempts=list(self._attempts),
                ),
                result_type=AttemptResult,
                start_to_close_timeout=UNBOUNDED,
                heartbeat_timeout=timedelta(seconds=task.heartbeat_timeout),
                retry_policy=NO_RETRIES,
                # A cancel reaches a running attempt through its next heartbeat; the
                # task ends once the worker has let go of it.
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            return result
        except ActivityError as e:
            if is_cancelled_exception(e):
                raise  # the task was cancelled: the workflow ends Canceled
            cause = e.cause
            if isinstance(cause, TimeoutError):
                return await self._recover(task, number, e)
            if isinstance(cause, ApplicationError) and cause.type == WORKER_SHUTDOWN_ERROR:
                return _interruption(
                    WORKER_SHUT_DOWN, e.identity, scheduled_at, f"{cause.message}\n"
                )
            # Refused by the SDK or the server (e.g. a payload over its limit), or a bug
            # in the worker: the attempt failed, not because of the task's own code.
            return _interruption(
                ATTEMPT_CRASHED, e.identity, scheduled_at,
                f"The attempt failed outside the task: {cause or e}\n",
            )

    async def _recover(
        self, task: RunTaskInput, number: int, error: ActivityError
    ) -> AttemptResult:
        """The attempt's heartbeats stopped: ask the worker that started it what happened."""
        holder = await self._holder(error)
        if holder.worker_id:
            try:
                answer: RecoverAttemptResult = await workflow.execute_activity(
                    RECOVER_ACTIVITY,
                    RecoverAttemptInput(
                        workflow_id=workflow.info().workflow_id,
                        attempt=number,
                        started_at=holder.started_at,
                    ),
                    result_type=RecoverAttemptResult,
                    task_queue=recovery_task_queue(holder.worker_id),
                    schedule_to_start_timeout=RECOVERY_WAIT,
                    start_to_close_timeout=UNBOUNDED,
                    heartbeat_timeout=timedelta(seconds=task.heartbeat_timeout),
                    retry_policy=NO_RETRIES,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
            except ActivityError as e:
                if is_cancelled_exception(e):
                    raise
                answer = RecoverAttemptResult()  # nobody answered for it: the worker is gone
            if answer.outcome is not None:
                return answer.outcome
            if answer.ran_it:
                workflow.logger.warning(
                    "Attempt %d of %s: worker %s is alive but no longer has its outcome",
                    number, task.task_path, holder.worker_id,
                )
                _count_lost(task, "outcome_lost")
                return _interruption(
                    OUTCOME_LOST, holder.worker_id, holder.started_at,
                    f"Worker {holder.worker_id!r} ran the attempt, but its outcome never "
                    "reached the Temporal server (an outage longer than the worker keeps "
                    "outcomes): it runs again.\n",
                )
        who = f"Worker {holder.worker_id!r}" if holder.worker_id else "The worker"
        workflow.logger.warning(
            "Attempt %d of %s: %s stopped heartbeating; running it again",
            number, task.task_path, who,
        )
        _count_lost(task, "worker_lost")
        return _interruption(
            WORKER_LOST, holder.worker_id, holder.started_at,
            f"{who} stopped before the attempt finished (no heartbeat for "
            f"{task.heartbeat_timeout:g}s, and no answer when asked).\n",
        )

    async def _holder(self, error: ActivityError) -> AttemptHolder:
        if not error.started_event_id:
            return AttemptHolder()
        try:
            holder: AttemptHolder = await workflow.execute_local_activity(
                FIND_HOLDER_ACTIVITY,
                FindHolderInput(
                    workflow_id=workflow.info().workflow_id,
                    run_id=workflow.info().run_id,
                    started_event_id=error.started_event_id,
                ),
                result_type=AttemptHolder,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            return holder
        except ActivityError as e:
            if is_cancelled_exception(e):
                raise
            return AttemptHolder()


def _interruption(path: str, worker_id: str, started_at: str | None, message: str) -> AttemptResult:
    now = workflow.now().isoformat()
    return AttemptResult(
        worker_id=worker_id,
        started_at=started_at,
        finished_at=now,
        succeeded=False,
        error=ErrorRecord(exception_class_path=path, traceback=message),
    )


def _count_lost(task: RunTaskInput, outcome: str) -> None:
    """Count a lost attempt on the worker's metrics (not again when the history replays)."""
    workflow.metric_meter().create_counter(
        ATTEMPTS_LOST_METRIC, "Task attempts lost: their worker died, or their outcome."
    ).add(
        1,
        {"task": task.task_path, "queue": task.queue_name, "backend": task.backend,
         "outcome": outcome},
    )


def _given_up(record: AttemptRecord, lost: int, task: RunTaskInput) -> AttemptRecord:
    assert record.error is not None
    note = (
        f"Not run again: {lost} worker(s) were lost running this task "
        f"(max_lost_attempts is {task.max_lost_attempts}).\n"
    )
    return replace(record, error=replace(record.error, traceback=record.error.traceback + note))


def _interrupted(record: AttemptRecord) -> bool:
    return record.error is not None and record.error.exception_class_path in INTERRUPTIONS


def _lost(record: AttemptRecord) -> bool:
    return record.error is not None and record.error.exception_class_path == WORKER_LOST

