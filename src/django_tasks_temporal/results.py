"""Temporal's record of a task -> django.tasks `TaskResult` (shared by backend, API, admin).

A task's truth is its workflow history: the start event holds the task and its
arguments, each attempt is its own activity execution (so every attempt's worker,
times and error are kept), and the close event holds the outcome. A finished task is
read with one history call; an unfinished one adds one `describe` for the attempt in
progress (which worker runs it, since when). No query, so no worker needs to be running.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.utils.module_loading import import_string
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.converter import DataConverter

from django_tasks_temporal.payloads import (
    WORKFLOW_NAME,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    RunTaskInput,
)
from django_tasks_temporal.workflows import WORKER_LOST, attempt_error

if TYPE_CHECKING:
    AnyTask = Task[..., Any]
    AnyTaskResult = TaskResult[..., Any]


_CLOSED_ERRORS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: (
        "django_tasks_temporal.exceptions.TaskCancelled",
        "The task was cancelled.\n",
    ),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: (
        "django_tasks_temporal.exceptions.TaskTerminated",
        "The task's workflow was terminated: {reason}\n",
    ),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: (
        "django_tasks_temporal.exceptions.TaskTimedOut",
        "The task's workflow timed out.\n",
    ),
}


class NotATask(LookupError):
    """The workflow id does not name a task of this backend."""


@dataclass(kw_only=True)
class _Attempt:
    worker_id: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: ErrorRecord | None = None
    return_value: Any = None


@dataclass(kw_only=True)
class TaskState:
    """Everything known about one task, independent of Django's `Task` objects."""

    id: str
    input: RunTaskInput
    status: TaskResultStatus
    enqueued_at: datetime
    finished_at: datetime | None = None
    attempts: list[_Attempt] = field(default_factory=list)
    return_value: Any = None

    @property
    def started_at(self) -> datetime | None:
        return self.attempts[0].started_at if self.attempts else None

    @property
    def last_attempted_at(self) -> datetime | None:
        return self.attempts[-1].started_at if self.attempts else None


def _time(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def fetch_task_state(client: Client, workflow_id: str) -> TaskState:
    """Read one task from Temporal: a history call, plus `describe` while it is open."""
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    state = await _replay(client.data_converter, workflow_id, history.events)
    if state.finished_at is None and not _settled_by_last_attempt(state):
        description = await handle.describe()
        if description.close_time is not None:  # it finished in between the two calls
            history = await handle.fetch_history()
            return await _replay(client.data_converter, workflow_id, history.events)
        _apply_pending(state, description)
    return state


def _settled_by_last_attempt(state: TaskState) -> bool:
    """Whether the attempts alone decide the outcome, before the workflow records it.

    The workflow closes in the workflow task after the last attempt; if no worker has
    processed it yet (say the worker stopped right after the attempt), the task has
    still finished, and reads say so.
    """
    if not state.attempts or state.attempts[-1].finished_at is None:
        return False
    last = state.attempts[-1]
    if last.error is None:
        state.status = TaskResultStatus.SUCCESSFUL
        state.return_value = last.return_value
    elif sum(
        a.error is not None and a.error.exception_class_path != WORKER_LOST
        for a in state.attempts
    ) >= state.input.retry.max_attempts:
        state.status = TaskResultStatus.FAILED
    else:
        return False
    state.finished_at = last.finished_at
    return True


async def _replay(
    converter: DataConverter, workflow_id: str, events: Sequence[HistoryEvent]
) -> TaskState:
    if not events or events[0].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        raise NotATask(workflow_id)
    started = events[0].workflow_execution_started_event_attributes
    if started.workflow_type.name != WORKFLOW_NAME:
        raise NotATask(workflow_id)
    [task_input] = await converter.decode(started.input.payloads, [RunTaskInput])
    state = TaskState(
        id=workflow_id,
        input=task_input,
        status=TaskResultStatus.READY,
        enqueued_at=parse_time(task_input.enqueued_at) or _time(events[0].event_time),
    )
    by_scheduled_id: dict[int, _Attempt] = {}
    for event in events[1:]:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attempt = _Attempt()
            by_scheduled_id[event.event_id] = attempt
            state.attempts.append(attempt)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            attempt = by_scheduled_id[attrs.scheduled_event_id]
            attempt.worker_id = attrs.identity
            attempt.started_at = _time(event.event_time)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = event.activity_task_completed_event_attributes
            [result] = await converter.decode(attrs_c.result.payloads, [AttemptResult])
            attempt = by_scheduled_id[attrs_c.scheduled_event_id]
            attempt.worker_id = result.worker_id
            attempt.started_at = parse_time(result.started_at)
            attempt.finished_at = parse_time(result.finished_at)
            attempt.error = result.error
            attempt.return_value = result.return_value
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            attrs_f = (
                event.activity_task_failed_event_attributes
                if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else event.activity_task_timed_out_event_attributes
            )
            attempt = by_scheduled_id[attrs_f.scheduled_event_id]
            cause = await converter.decode_failure(attrs_f.failure)
            attempt.error = attempt_error(cause, attempt.worker_id)
            attempt.finished_at = _time(event.event_time)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            attrs_x = event.activity_task_canceled_event_attributes
            attempt = by_scheduled_id[attrs_x.scheduled_event_id]
            attempt.finished_at = _time(event.event_time)
            path, message = _CLOSED_ERRORS[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]
            attempt.error = ErrorRecord(exception_class_path=path, traceback=message)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            state.return_value = (await converter.decode(payloads))[0] if payloads else None
            state.status = TaskResultStatus.SUCCESSFUL
            state.finished_at = _time(event.event_time)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED or kind in _CLOSED_ERRORS:
            state.status = TaskResultStatus.FAILED
            state.finished_at = _time(event.event_time)
            await _close_attempts(converter, state, event)
    return state


async def _close_attempts(converter: DataConverter, state: TaskState, event: HistoryEvent) -> None:
    """Give a task that ended without its own error (cancelled, terminated) one."""
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED and not any(
        a.error for a in state.attempts
    ):
        failure = await converter.decode_failure(
            event.workflow_execution_failed_event_attributes.failure
        )
        state.attempts.append(
            _Attempt(
                error=ErrorRecord(
                    exception_class_path="django_tasks_temporal.exceptions.AttemptCrashed",
                    traceback=f"The task's workflow failed: {failure}\n",
                ),
                finished_at=state.finished_at,
            )
        )
    if event.event_type in _CLOSED_ERRORS:
        path, message = _CLOSED_ERRORS[event.event_type]
        reason = event.workflow_execution_terminated_event_attributes.reason
        error = ErrorRecord(exception_class_path=path, traceback=message.format(reason=reason))
        unfinished = [a for a in state.attempts if a.error is None and a.started_at]
        if unfinished:
            unfinished[-1].error = error
        elif not any(a.error and a.error.exception_class_path == path for a in state.attempts):
            state.attempts.append(_Attempt(error=error, finished_at=state.finished_at))
    # Attempts that never started (cancelled while waiting) are not attempts.
    state.attempts = [a for a in state.attempts if a.worker_id or a.error is not None]


def _apply_pending(state: TaskState, description: WorkflowExecutionDescription) -> None:
    """Fill in the attempt in progress, which the history does not show until it ends."""
    unfinished = [a for a in state.attempts if a.finished_at is None and a.error is None]
    for pending in description.raw_description.pending_activities:
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED and unfinished:
            unfinished[-1].worker_id = pending.last_worker_identity
            unfinished[-1].started_at = _time(pending.last_started_time)
            state.status = TaskResultStatus.RUNNING
    # A scheduled attempt that no worker has picked up yet is not an attempt.
    state.attempts = [a for a in state.attempts if a.worker_id]


def attempt_records(state_attempts: list[_Attempt]) -> list[AttemptRecord]:
    return [
        AttemptRecord(
            worker_id=a.worker_id,
            started_at=a.started_at.isoformat() if a.started_at else None,
            finished_at=a.finished_at.isoformat() if a.finished_at else None,
            error=a.error,
        )
        for a in state_attempts
    ]


def load_task(task_input: RunTaskInput, backend_alias: str) -> AnyTask:
    """The enqueued `Task`: the module-level task with the options it was enqueued with."""
    try:
        task = import_string(task_input.task_path)
    except ImportError as e:
        raise ValueError(f"Task path {task_input.task_path!r} does not import.") from e
    if not isinstance(task, Task):
        raise ValueError(f"{task_input.task_path!r} is not a Task.")
    return dataclasses.replace(
        task,
        priority=task_input.priority,
        queue_name=task_input.queue_name,
        run_after=parse_time(task_input.run_after),
        backend=backend_alias,
    )


def build_task_result(
    *,
    task: AnyTask,
    id: str,
    task_input: RunTaskInput,
    status: TaskResultStatus,
    enqueued_at: datetime | None,
    attempts: list[AttemptRecord],
    finished_at: datetime | None = None,
    return_value: Any = None,
) -> AnyTaskResult:
    """A `TaskResult` from attempt records (used for reads and inside running attempts)."""
    result = TaskResult(
        task=task,
        id=id,
        status=status,
        enqueued_at=enqueued_at,
        started_at=parse_time(attempts[0].started_at) if attempts else None,
        last_attempted_at=parse_time(attempts[-1].started_at) if attempts else None,
        finished_at=finished_at,
        args=task_input.args,
        kwargs=task_input.kwargs,
        backend=task.backend,
        errors=[
            TaskError(
                exception_class_path=a.error.exception_class_path,
                traceback=a.error.traceback,
            )
            for a in attempts
            if a.error is not None
        ],
        # An error without an attempt (cancelled while waiting) has no worker.
        worker_ids=[a.worker_id for a in attempts if a.worker_id],
    )
    object.__setattr__(result, "_return_value", return_value)
    return result


def to_task_result(state: TaskState, backend_alias: str) -> AnyTaskResult:
    # The task finished when its last attempt did; the workflow closes a moment later.
    last = state.attempts[-1] if state.attempts else None
    finished_at = state.finished_at and ((last and last.finished_at) or state.finished_at)
    return build_task_result(
        task=load_task(state.input, backend_alias),
        id=state.id,
        task_input=state.input,
        status=state.status,
        enqueued_at=state.enqueued_at,
        attempts=attempt_records(state.attempts),
        finished_at=finished_at,
        return_value=state.return_value,
    )
