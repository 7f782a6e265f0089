"""Temporal's record of a task -> django.tasks `TaskResult` (shared by backend, API, admin).

The workflow keeps its attempts and publishes them where no worker is needed to read
them: in its result or failure when it ends, in its memo while it waits to retry. The
history adds what the workflow cannot know yet: attempts whose worker died (a workflow
task that timed out or failed) and the attempt in progress. A finished task is read
with one history call; an unfinished one adds one `describe`. No query, so no worker
needs to be running.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils.module_loading import import_string
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowHistoryEventFilterType,
)
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal.payloads import (
    ATTEMPTS_MEMO,
    RELEASE_SIGNAL,
    WORKFLOW_NAME,
    AttemptRecord,
    ErrorRecord,
    ReleaseInput,
    RunTaskInput,
    TaskOutcome,
)
from django_tasks_temporal.workflows import HandOffToAnotherWorker, lost_attempt

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
class TaskState:
    """Everything known about one task, independent of Django's `Task` objects."""

    id: str
    input: RunTaskInput
    status: TaskResultStatus
    enqueued_at: datetime
    finished_at: datetime | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    return_value: Any = None
    released: bool = False  # a trigger released it (or it needs none)
    forced: bool = False  # a trigger asked to skip run_after
    waiting_to_retry: bool = False  # between a failed attempt and its backoff timer
    workflow_tasks: _WorkflowTasks = field(default_factory=lambda: _WorkflowTasks())

    def ready_to_run(self, now: datetime) -> bool:
        """Past its trigger and its run_after: any workflow task now runs an attempt."""
        run_after = parse_time(self.input.run_after)
        return self.released and (self.forced or run_after is None or run_after <= now)


def _time(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _is_lost_workflow_task(event: HistoryEvent) -> bool:
    """A workflow task that a dead worker held (timed out) or handed off (failed)."""
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        timeout = event.workflow_task_timed_out_event_attributes.timeout_type
        return timeout != TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START  # never started
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        failure = event.workflow_task_failed_event_attributes.failure
        return failure.application_failure_info.type == HandOffToAnotherWorker.__name__
    return False


# Events after which the next workflow task starts a new attempt (or none): anything
# but the renewals a worker makes while a long attempt runs, and the cancel request.
_NEW_ATTEMPT_CONTEXT = {
    EventType.EVENT_TYPE_TIMER_FIRED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
}


class _WorkflowTasks:
    """Follows workflow tasks through a history: who holds one, since when."""

    def __init__(self) -> None:
        self.latest: HistoryEvent | None = None  # the last WorkflowTaskStarted
        self.first: HistoryEvent | None = None  # where the current attempt began

    def see(self, event: HistoryEvent) -> None:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            self.latest = event
            self.first = self.first or event
        elif event.event_type in _NEW_ATTEMPT_CONTEXT:
            self.first = None

    def attempt(self) -> tuple[str, datetime] | None:
        """The identity and start of the worker holding the current attempt."""
        if self.latest is None or self.first is None:
            return None
        identity = self.latest.workflow_task_started_event_attributes.identity
        return identity, _time(self.first.event_time)


def lost_attempts(
    events: Iterable[HistoryEvent], known: Sequence[AttemptRecord]
) -> list[AttemptRecord]:
    """Attempts whose worker died, after the last attempt the workflow knows of.

    A lost worker leaves a workflow task that started and then timed out, or that it
    failed on purpose to hand the attempt to another worker.
    """
    times = [parse_time(a.finished_at or a.started_at) for a in known]
    since = max((t for t in times if t is not None), default=None)
    lost: list[AttemptRecord] = []
    tasks = _WorkflowTasks()
    for event in events:
        if _is_lost_workflow_task(event) and (holder := tasks.attempt()) is not None:
            identity, started_at = holder
            if since is None or started_at > since:
                finished_at = _time(event.event_time).isoformat()
                lost.append(lost_attempt(identity, started_at.isoformat(), finished_at))
        tasks.see(event)
    return lost


async def fetch_task_state(client: Client, workflow_id: str) -> TaskState:
    """Read one task from Temporal: a history call, plus `describe` while it is open."""
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    state = await _replay(client.data_converter, workflow_id, history.events)
    if state.finished_at is None:
        description = await handle.describe()
        if description.close_time is not None:  # it finished in between the two calls
            history = await handle.fetch_history()
            return await _replay(client.data_converter, workflow_id, history.events)
        _apply_pending(state, description)
    return state


async def read_task_state(client: Client, workflow_id: str) -> TaskState:
    """`fetch_task_state`, with an unknown or malformed id as `TaskResultDoesNotExist`."""
    try:
        return await fetch_task_state(client, workflow_id)
    except NotATask:
        raise TaskResultDoesNotExist(workflow_id) from None
    except RPCError as e:
        if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise TaskResultDoesNotExist(workflow_id) from None
        raise


async def wait_closed(client: Client, workflow_id: str) -> None:
    """Return once the task's current run has closed: a long poll for its close event.

    The server holds each poll for up to ~20 s and then answers with no event and a page
    token; the iterator polls again with it, so this is a handful of calls an hour.
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        async for _ in handle.fetch_history_events(
            wait_new_event=True,
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT,
        ):
            return
    except RPCError as e:
        if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise TaskResultDoesNotExist(workflow_id) from None
        raise


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
        released=not task_input.wait_for_release,
        attempts=list(task_input.earlier_attempts),
    )
    for event in events[1:]:
        await _apply(converter, state, event)
    if state.finished_at is None or state.status != TaskResultStatus.SUCCESSFUL:
        state.attempts += lost_attempts(events, state.attempts)
    return state


async def _apply(converter: DataConverter, state: TaskState, event: HistoryEvent) -> None:
    kind = event.event_type
    state.workflow_tasks.see(event)
    if kind == EventType.EVENT_TYPE_TIMER_FIRED:
        state.waiting_to_retry = False
    elif kind == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        memo = event.workflow_properties_modified_event_attributes.upserted_memo.fields
        if ATTEMPTS_MEMO in memo:  # upserted just before the backoff timer starts
            [state.attempts] = await converter.decode(
                [memo[ATTEMPTS_MEMO]], [list[AttemptRecord]]
            )
            state.waiting_to_retry = True
    elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        signaled = event.workflow_execution_signaled_event_attributes
        if signaled.signal_name == RELEASE_SIGNAL:
            [release] = await converter.decode(signaled.input.payloads, [ReleaseInput])
            state.released = True
            state.forced = state.forced or release.force
    elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        payloads = event.workflow_execution_completed_event_attributes.result.payloads
        [outcome] = await converter.decode(payloads, [TaskOutcome])
        state.status = TaskResultStatus.SUCCESSFUL
        state.attempts = outcome.attempts
        state.return_value = outcome.return_value
        state.finished_at = _time(event.event_time)
    elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        failure = await converter.decode_failure(
            event.workflow_execution_failed_event_attributes.failure
        )
        details = failure.details if isinstance(failure, ApplicationError) else ()
        state.status = TaskResultStatus.FAILED
        state.finished_at = _time(event.event_time)
        if details:  # the workflow's attempts, decoded without type hints
            state.attempts = _records(details[0])
        else:
            state.attempts.append(_closing_attempt(state, (
                "django_tasks_temporal.exceptions.AttemptCrashed",
                f"The task's workflow failed: {failure}\n",
            )))
    elif kind in _CLOSED_ERRORS:
        state.status = TaskResultStatus.FAILED
        state.finished_at = _time(event.event_time)
        path, message = _CLOSED_ERRORS[kind]
        reason = event.workflow_execution_terminated_event_attributes.reason
        state.attempts.append(_closing_attempt(state, (path, message.format(reason=reason))))


def _records(raw: list[Any]) -> list[AttemptRecord]:
    return [
        AttemptRecord(
            worker_id=item["worker_id"],
            started_at=item.get("started_at"),
            finished_at=item.get("finished_at"),
            error=ErrorRecord(**item["error"]) if item.get("error") else None,
        )
        for item in raw
    ]


def _closing_attempt(state: TaskState, error: tuple[str, str]) -> AttemptRecord:
    """The attempt a cancel or termination cut short, or the error of one never run."""
    path, message = error
    record = ErrorRecord(exception_class_path=path, traceback=message)
    finished_at = state.finished_at.isoformat() if state.finished_at else None
    in_flight = _in_flight(state)
    if in_flight is None:
        return AttemptRecord(worker_id="", finished_at=finished_at, error=record)
    return dataclasses.replace(in_flight, finished_at=finished_at, error=record)


def _in_flight(state: TaskState) -> AttemptRecord | None:
    """The attempt a worker's workflow task is running, if the task may run now."""
    holder = state.workflow_tasks.attempt()
    if holder is None or state.waiting_to_retry:
        return None
    identity, started_at = holder
    if not state.ready_to_run(started_at):
        return None
    known = [parse_time(a.finished_at or a.started_at) for a in state.attempts]
    if any(t is not None and t >= started_at for t in known):
        return None  # that workflow task's attempt has already been recorded
    return AttemptRecord(worker_id=identity, started_at=started_at.isoformat())


def _apply_pending(state: TaskState, description: WorkflowExecutionDescription) -> None:
    """An open task is RUNNING while a worker holds a workflow task and it may run."""
    pending = description.raw_description.pending_workflow_task
    if pending.state != PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED:
        return
    if not state.ready_to_run(datetime.now(UTC)):
        return
    state.status = TaskResultStatus.RUNNING
    in_flight = _in_flight(state) if pending.attempt <= 1 else None
    if in_flight is not None:
        state.attempts.append(in_flight)
    else:
        # A retried workflow task is not in the history until it completes: the worker
        # running this attempt is not known yet.
        started_at = _time(pending.started_time).isoformat()
        state.attempts.append(AttemptRecord(worker_id="", started_at=started_at))


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


@dataclass(frozen=True, kw_only=True)
class TaskSummary:
    """A task as plain data, readable even where its task path no longer imports.

    Backs `TaskResult` (for `get_result`) and the JSON of `status/<id>/` and the admin.
    """

    id: str
    status: TaskResultStatus
    task_path: str
    backend: str
    queue_name: str
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    run_after: datetime | None
    enqueued_at: datetime | None
    started_at: datetime | None
    last_attempted_at: datetime | None
    finished_at: datetime | None
    return_value: Any
    errors: list[ErrorRecord]
    worker_ids: list[str]
    attempts: list[AttemptRecord]
    waiting_for_trigger: bool  # on a trigger-gated queue and not released yet


def summarize(
    *,
    id: str,
    task_input: RunTaskInput,
    status: TaskResultStatus,
    enqueued_at: datetime | None,
    attempts: list[AttemptRecord],
    finished_at: datetime | None = None,
    return_value: Any = None,
    released: bool = True,
) -> TaskSummary:
    started = [a.started_at for a in attempts if a.started_at]
    return TaskSummary(
        id=id,
        status=status,
        task_path=task_input.task_path,
        backend=task_input.backend,
        queue_name=task_input.queue_name,
        priority=task_input.priority,
        args=task_input.args,
        kwargs=task_input.kwargs,
        run_after=parse_time(task_input.run_after),
        enqueued_at=enqueued_at,
        started_at=parse_time(started[0]) if started else None,
        last_attempted_at=parse_time(started[-1]) if started else None,
        finished_at=finished_at,
        return_value=return_value,
        errors=[a.error for a in attempts if a.error is not None],
        # An error without an attempt (cancelled while waiting) has no worker.
        worker_ids=[a.worker_id for a in attempts if a.worker_id],
        attempts=attempts,
        waiting_for_trigger=not released and status == TaskResultStatus.READY,
    )


def summarize_state(state: TaskState) -> TaskSummary:
    # The task finished when its last attempt did; the workflow closes a moment later.
    last = state.attempts[-1] if state.attempts else None
    finished_at = state.finished_at and (
        (last and parse_time(last.finished_at)) or state.finished_at
    )
    return summarize(
        id=state.id,
        task_input=state.input,
        status=state.status,
        enqueued_at=state.enqueued_at,
        attempts=state.attempts,
        finished_at=finished_at,
        return_value=state.return_value,
        released=state.released,
    )


def build_task_result(task: AnyTask, summary: TaskSummary) -> AnyTaskResult:
    """A `TaskResult` from a summary (used for reads and inside running attempts)."""
    result = TaskResult(
        task=task,
        id=summary.id,
        status=summary.status,
        enqueued_at=summary.enqueued_at,
        started_at=summary.started_at,
        last_attempted_at=summary.last_attempted_at,
        finished_at=summary.finished_at,
        args=summary.args,
        kwargs=summary.kwargs,
        backend=task.backend,
        errors=[
            TaskError(exception_class_path=e.exception_class_path, traceback=e.traceback)
            for e in summary.errors
        ],
        worker_ids=summary.worker_ids,
    )
    object.__setattr__(result, "_return_value", summary.return_value)
    return result


def to_task_result(state: TaskState, backend_alias: str) -> AnyTaskResult:
    return build_task_result(load_task(state.input, backend_alias), summarize_state(state))
