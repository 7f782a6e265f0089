"""The life of one Django task as a Temporal workflow: wait, release, attempts, retries.

Runs in Temporal's sandbox and imports nothing of Django: the task itself runs in the
activity named `ACTIVITY_NAME` (see `activities.py`), called by name, as a *local*
activity: the worker that holds the workflow task runs the attempt at once, so a task
costs one workflow task and six history events instead of an activity round trip.

A worker that dies mid-attempt stops completing the workflow task; after the workflow
task timeout (`heartbeat_timeout`; long attempts keep the task alive meanwhile) the
server hands the task to another worker, which runs the attempt again. That attempt's
activity finds the lost ones and reports them, so they are kept, counted apart from
the task's own failures, and never use up `max_attempts`.

Attempts are kept in workflow state and published where a reader needs no worker: in
the memo while the task waits to retry, and in the result (or failure) when it ends.
"""

from __future__ import annotations

import builtins
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
    ATTEMPTS_MEMO,
    RELEASE_SIGNAL,
    WORKER_SHUTDOWN_ERROR,
    WORKFLOW_NAME,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    ReleaseInput,
    RetryPolicyInput,
    RunAttemptInput,
    RunTaskInput,
    TaskOutcome,
)
from django_tasks_temporal.search_attributes import RELEASED, TASK_STATE

WORKER_LOST = "django_tasks_temporal.exceptions.WorkerLost"
ATTEMPT_CRASHED = "django_tasks_temporal.exceptions.AttemptCrashed"

# The activity enforces the task's own timeout; this only bounds a wedged attempt.
UNBOUNDED_ATTEMPT = timedelta(days=3650)


class HandOffToAnotherWorker(Exception):
    """Raised to fail the workflow task, so the server gives it to another worker."""


def backoff(policy: RetryPolicyInput, failures: int) -> timedelta:
    """The pause after the `failures`-th failed attempt (exponential, capped)."""
    maximum = policy.maximum_interval or policy.initial_interval * 100
    seconds = policy.initial_interval * policy.backoff_coefficient ** (failures - 1)
    return timedelta(seconds=min(seconds, maximum))


def is_lost(record: AttemptRecord) -> bool:
    return record.error is not None and record.error.exception_class_path == WORKER_LOST


@workflow.defn(name=WORKFLOW_NAME)
class RunTaskWorkflow:
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
        self._attempts = list(task.earlier_attempts)
        if task.wait_for_release:
            await workflow.wait_condition(lambda: self._released)
            workflow.upsert_search_attributes([TASK_STATE.value_set(RELEASED)])
        await self._wait_for_run_after(task)
        while True:
            result = await self._attempt(task)
            self._attempts += result.lost_attempts
            self._attempts.append(
                AttemptRecord(
                    worker_id=result.worker_id,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                    error=result.error,
                )
            )
            if result.succeeded:
                return TaskOutcome(return_value=result.return_value, attempts=self._attempts)
            this_run = self._attempts[len(task.earlier_attempts) :]
            failures = sum(not is_lost(a) for a in this_run if a.error is not None)
            if is_lost(self._attempts[-1]) or failures >= task.retry.max_attempts:
                raise self._failure(task)
            workflow.upsert_memo({ATTEMPTS_MEMO: self._attempts})
            await workflow.sleep(backoff(task.retry, failures))

    def _failure(self, task: RunTaskInput) -> ApplicationError:
        error = self._attempts[-1].error
        assert error is not None
        return ApplicationError(
            f"Task {task.task_path} failed after {len(self._attempts)} attempt(s): "
            f"{error.exception_class_path}",
            self._attempts,
            type=error.exception_class_path,
            non_retryable=True,
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
        try:
            result: AttemptResult = await workflow.execute_local_activity(
                ACTIVITY_NAME,
                RunAttemptInput(
                    task=task,
                    workflow_id=workflow.info().workflow_id,
                    attempt=len(self._attempts) + 1,
                    previous_attempts=list(self._attempts),
                    history_length=workflow.info().get_current_history_length(),
                ),
                result_type=AttemptResult,
                start_to_close_timeout=UNBOUNDED_ATTEMPT,
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            return result
        except (ActivityError, ApplicationError) as e:
            if is_cancelled_exception(e):
                raise  # the task was cancelled: the workflow ends Canceled
            # A local activity's failure may arrive wrapped in ActivityError or bare.
            cause = e.cause if isinstance(e, ActivityError) else e
            if isinstance(cause, ApplicationError) and cause.type == WORKER_SHUTDOWN_ERROR:
                raise HandOffToAnotherWorker(str(cause)) from None
            now = workflow.now().isoformat()
            return AttemptResult(
                worker_id="",
                started_at=now,
                finished_at=now,
                succeeded=False,
                error=ErrorRecord(
                    exception_class_path=ATTEMPT_CRASHED,
                    traceback=f"The attempt failed outside the task: {cause}\n",
                ),
            )


def lost_attempt(
    worker_id: str, started_at: str | None, finished_at: str | None
) -> AttemptRecord:
    """The record of an attempt whose worker stopped answering ("" if not known)."""
    who = f"Worker {worker_id!r}" if worker_id else "A worker"
    return AttemptRecord(
        worker_id=worker_id,
        started_at=started_at,
        finished_at=finished_at,
        error=ErrorRecord(
            exception_class_path=WORKER_LOST,
            traceback=f"{who} stopped before the attempt finished.\n",
        ),
    )

