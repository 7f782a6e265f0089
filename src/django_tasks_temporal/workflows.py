"""The life of one Django task as a Temporal workflow: wait, release, attempts, retries.

Runs in Temporal's sandbox and imports nothing of Django: the task itself runs in the
activity named `ACTIVITY_NAME` (see `activities.py`), called by name. Attempts are
separate activity executions (Temporal retries are off), so every attempt's worker and
error stay in the history, and a worker lost mid-attempt (heartbeat timeout, or a
worker that shut down before the task finished) does not use up the task's attempts.
"""

from __future__ import annotations

import builtins
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

from django_tasks_temporal.payloads import (
    ACTIVITY_NAME,
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
)

# Without a configured timeout an attempt may run as long as it heartbeats.
UNBOUNDED_ATTEMPT = timedelta(days=3650)


def backoff(policy: RetryPolicyInput, failures: int) -> timedelta:
    """The pause after the `failures`-th failed attempt (exponential, capped)."""
    maximum = policy.maximum_interval or policy.initial_interval * 100
    seconds = policy.initial_interval * policy.backoff_coefficient ** (failures - 1)
    return timedelta(seconds=min(seconds, maximum))


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
    async def run(self, task: RunTaskInput) -> Any:
        if task.wait_for_release:
            await workflow.wait_condition(lambda: self._released)
        await self._wait_for_run_after(task)
        failures = lost = 0
        while True:
            record, result = await self._attempt(task)
            self._attempts.append(record)
            if result is not None and result.succeeded:
                return result.return_value
            if record.error is not None and record.error.exception_class_path == WORKER_LOST:
                lost += 1
                if lost <= task.max_lost_attempts:
                    continue
            else:
                failures += 1
                if failures < task.retry.max_attempts:
                    await workflow.sleep(backoff(task.retry, failures))
                    continue
            error = record.error
            assert error is not None
            raise ApplicationError(
                f"Task {task.task_path} failed after {len(self._attempts)} attempt(s): "
                f"{error.exception_class_path}",
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

    async def _attempt(self, task: RunTaskInput) -> tuple[AttemptRecord, AttemptResult | None]:
        number = len(self._attempts) + 1
        try:
            result = await workflow.execute_activity(
                ACTIVITY_NAME,
                RunAttemptInput(
                    task=task,
                    workflow_id=workflow.info().workflow_id,
                    attempt=number,
                    previous_attempts=list(self._attempts),
                ),
                result_type=AttemptResult,
                activity_id=str(number),
                start_to_close_timeout=(
                    timedelta(seconds=task.timeout) if task.timeout else UNBOUNDED_ATTEMPT
                ),
                heartbeat_timeout=timedelta(seconds=task.heartbeat_timeout),
                retry_policy=RetryPolicy(maximum_attempts=1),
                # Wait for the attempt to stop (it hears of the cancel with its next heartbeat)
                # so the history records who ran it and when.
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as e:
            if is_cancelled_exception(e):
                raise  # the task was cancelled: the workflow ends Canceled
            worker_id = e.identity or _heartbeat_identity(e.cause)
            return AttemptRecord(worker_id=worker_id, error=attempt_error(e.cause, worker_id)), None
        record = AttemptRecord(
            worker_id=result.worker_id,
            started_at=result.started_at,
            finished_at=result.finished_at,
            error=result.error,
        )
        return record, result


WORKER_LOST = "django_tasks_temporal.exceptions.WorkerLost"


def _heartbeat_identity(cause: BaseException | None) -> str:
    """The worker named in a timed-out attempt's last heartbeat ("" if it never beat)."""
    details = cause.last_heartbeat_details if isinstance(cause, TimeoutError) else ()
    return str(details[0]) if details else ""


def attempt_error(cause: BaseException | None, identity: str) -> ErrorRecord:
    """Why an attempt ended without the activity returning (it returns task errors).

    Shared with `results.py`, which reads the same failures back from the history.
    """
    if isinstance(cause, TimeoutError):
        if cause.type == TimeoutType.HEARTBEAT:
            return ErrorRecord(
                exception_class_path=WORKER_LOST,
                traceback=f"Worker {identity!r} stopped heartbeating mid-attempt.\n",
            )
        kind = cause.type.name if cause.type else "unknown"
        return ErrorRecord(
            exception_class_path="django_tasks_temporal.exceptions.TaskTimedOut",
            traceback=f"The attempt on worker {identity!r} exceeded its timeout ({kind}).\n",
        )
    if isinstance(cause, ApplicationError) and cause.type == WORKER_SHUTDOWN_ERROR:
        return ErrorRecord(
            exception_class_path=WORKER_LOST,
            traceback=f"Worker {identity!r} shut down before the attempt finished.\n",
        )
    return ErrorRecord(
        exception_class_path="django_tasks_temporal.exceptions.AttemptCrashed",
        traceback=f"The attempt on worker {identity!r} failed outside the task: {cause}\n",
    )
