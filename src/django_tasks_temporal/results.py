"""Temporal's record of a task -> django.tasks `TaskResult` (shared by backend, API, admin).

The workflow keeps its attempts and publishes them where no worker is needed to read
them: in its result or failure when it ends, in its memo after an attempt that did not
end it. The history and `describe` add the attempt in progress (a pending activity) and
the one a cancel cut short (its ActivityTaskStarted event). A finished task is read with
one history call; an unfinished one adds one `describe`. No query, so no worker needs to
be running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TASK_REFRESH_ATTRS, TaskError
from django.tasks.exceptions import TaskResultDoesNotExist
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType, PendingActivityState
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
    ACTIVITY_NAME,
    ATTEMPT_CRASHED,
    ATTEMPTS_MEMO,
    RECOVER_ACTIVITY,
    RELEASE_SIGNAL,
    TASK_CANCELLED,
    WORKFLOW_NAME,
    AttemptRecord,
    ErrorRecord,
    ProgressRecord,
    ReleaseInput,
    RunTaskInput,
    TaskOutcome,
)
from django_tasks_temporal.progress import TaskProgress
from django_tasks_temporal.tasks import load_task
from django_tasks_temporal.timezones import for_django

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend

    AnyTask = Task[..., Any]
    AnyTaskResult = TaskResult[..., Any]

_CLOSED_ERRORS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: (
        "django_tasks_temporal.exceptions.TaskTerminated",
        "The task's workflow was terminated: {reason}\n",
    ),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: (
        "django_tasks_temporal.exceptions.TaskTimedOut",
        "The task's workflow timed out.\n",
    ),
}
_ATTEMPT_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}
_RUNNING_ACTIVITY = {
    PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED,
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
    task_queue: str = ""
    finished_at: datetime | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    return_value: Any = None
    released: bool = False  # a trigger released it (or it needs none)
    forced: bool = False  # a trigger asked to skip run_after
    # The latest attempt activity that started (its worker and start), from the history:
    # Temporal writes the started event when the attempt closes.
    last_started: AttemptRecord | None = None
    cut_short: AttemptRecord | None = None  # the attempt a cancel ended (ActivityTaskCanceled)
    # The question to an attempt's worker after its heartbeats stopped is open
    # (`recover_attempt`), or about to be asked.
    recovering: bool = False
    activity_types: dict[int, str] = field(default_factory=dict)  # scheduled event id -> type
    running_progress: ProgressRecord | None = None  # the running attempt's heartbeat details

    def ready_to_run(self, now: datetime) -> bool:
        """Past its trigger and its run_after: an attempt may run now."""
        run_after = parse_time(self.input.run_after)
        return self.released and (self.forced or run_after is None or run_after <= now)


def _time(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def belongs_to(backend: TemporalTaskBackend, task_queue: str, alias: str) -> bool:
    """Whether a task (its Temporal task queue, the backend alias it was enqueued by) is
    one of `backend`'s: other backends may share the namespace."""
    return alias == backend.alias and backend.config.django_queue_name(task_queue) is not None


async def fetch_task_state(
    client: Client, workflow_id: str, backend: TemporalTaskBackend | None = None
) -> TaskState:
    """Read one task from Temporal: a history call, plus `describe` while it is open.

    With `backend`, a task of another backend is `NotATask`.
    """
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    state = await _replay(client.data_converter, workflow_id, history.events)
    if backend is not None and not belongs_to(backend, state.task_queue, state.input.backend):
        raise NotATask(workflow_id)
    if state.finished_at is None:
        description = await handle.describe()
        if description.close_time is not None:  # it finished in between the two calls
            history = await handle.fetch_history()
            return await _replay(client.data_converter, workflow_id, history.events)
        await _apply_pending(client.data_converter, state, description)
    return state


async def read_task_state(
    client: Client, workflow_id: str, backend: TemporalTaskBackend | None = None
) -> TaskState:
    """`fetch_task_state`, with an unknown or malformed id as `TaskResultDoesNotExist`."""
    try:
        return await fetch_task_state(client, workflow_id, backend)
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
        task_queue=started.task_queue.name,
        released=not task_input.wait_for_release,
        attempts=list(task_input.earlier_attempts),
    )
    for event in events[1:]:
        await _apply(converter, state, event)
    return state


async def _apply(converter: DataConverter, state: TaskState, event: HistoryEvent) -> None:
    kind = event.event_type
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        state.activity_types[event.event_id] = name
        state.recovering = name == RECOVER_ACTIVITY
    elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        attributes = event.activity_task_started_event_attributes
        if state.activity_types.get(attributes.scheduled_event_id) == ACTIVITY_NAME:
            state.last_started = AttemptRecord(
                worker_id=attributes.identity, started_at=_time(event.event_time).isoformat()
            )
    elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        # A cancel ended the attempt, or the question about it to its worker.
        state.cut_short = state.last_started
    elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        # The worker of an attempt whose heartbeats stopped is asked next.
        scheduled = event.activity_task_timed_out_event_attributes.scheduled_event_id
        state.recovering = state.activity_types.get(scheduled) == ACTIVITY_NAME
    elif kind == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        memo = event.workflow_properties_modified_event_attributes.upserted_memo.fields
        if ATTEMPTS_MEMO in memo:  # upserted after an attempt that did not end the task
            [state.attempts] = await converter.decode(
                [memo[ATTEMPTS_MEMO]], [list[AttemptRecord]]
            )
            state.recovering = False
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
            message = f"The task's workflow failed: {failure}\n"
            state.attempts.append(_closing_attempt(state, ATTEMPT_CRASHED, message))
    elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        state.status = TaskResultStatus.FAILED
        state.finished_at = _time(event.event_time)
        message = "The task was cancelled.\n"
        state.attempts.append(_closing_attempt(state, TASK_CANCELLED, message))
    elif kind in _CLOSED_ERRORS:
        state.status = TaskResultStatus.FAILED
        state.finished_at = _time(event.event_time)
        path, message = _CLOSED_ERRORS[kind]
        reason = event.workflow_execution_terminated_event_attributes.reason
        state.attempts.append(_closing_attempt(state, path, message.format(reason=reason)))


def _records(raw: list[Any]) -> list[AttemptRecord]:
    return [
        AttemptRecord(
            worker_id=item["worker_id"],
            started_at=item.get("started_at"),
            finished_at=item.get("finished_at"),
            error=ErrorRecord(**item["error"]) if item.get("error") else None,
            progress=ProgressRecord(**item["progress"]) if item.get("progress") else None,
        )
        for item in raw
    ]


def _closing_attempt(state: TaskState, path: str, message: str) -> AttemptRecord:
    """The attempt a cancel (or termination) cut short, or the error of one never run."""
    record = ErrorRecord(exception_class_path=path, traceback=message)
    finished_at = state.finished_at.isoformat() if state.finished_at else None
    cut_short = state.cut_short
    if cut_short is None:
        return AttemptRecord(worker_id="", finished_at=finished_at, error=record)
    return AttemptRecord(
        worker_id=cut_short.worker_id,
        started_at=cut_short.started_at,
        finished_at=finished_at,
        error=record,
    )


async def _apply_pending(
    converter: DataConverter, state: TaskState, description: WorkflowExecutionDescription
) -> None:
    """An open task is RUNNING while a worker runs its attempt (or is asked about it)."""
    if not state.ready_to_run(datetime.now(UTC)):
        return
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == ACTIVITY_NAME:
            if pending.state in _RUNNING_ACTIVITY:  # not SCHEDULED: waiting for a worker
                state.status = TaskResultStatus.RUNNING
                state.attempts.append(
                    AttemptRecord(
                        worker_id=pending.last_worker_identity,
                        started_at=_time(pending.last_started_time).isoformat(),
                    )
                )
                if pending.heartbeat_details.payloads:  # the progress it reported
                    [state.running_progress] = await converter.decode(
                        pending.heartbeat_details.payloads, [ProgressRecord]
                    )
            return
    if state.recovering and state.last_started is not None:
        state.status = TaskResultStatus.RUNNING
        state.attempts.append(state.last_started)


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
    # READY tasks, where checked: whether any worker polled the task's queue in the last
    # few minutes (False: nothing will run it until one does).
    queue_served: bool | None = None
    # What the task last reported (the running attempt's, else the latest attempt's).
    progress: TaskProgress | None = None


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
    progress: ProgressRecord | None = None,
) -> TaskSummary:
    started = [a.started_at for a in attempts if a.started_at]
    reported = [a.progress for a in attempts if a.progress is not None]
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
        progress=TaskProgress.from_record(progress or (reported[-1] if reported else None)),
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
        progress=state.running_progress,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalTaskResult(TaskResult):  # type: ignore[type-arg, misc]  # stubs differ
    """Django's `TaskResult`, plus what the task last reported about its progress."""

    progress: TaskProgress | None = None

    def refresh(self) -> None:
        self._take(self.task.get_backend().get_result(self.id))

    async def arefresh(self) -> None:
        self._take(await self.task.get_backend().aget_result(self.id))

    def _take(self, fresh: AnyTaskResult) -> None:
        for name in (*TASK_REFRESH_ATTRS, "progress"):
            object.__setattr__(self, name, getattr(fresh, name, None))


def build_task_result(task: AnyTask, summary: TaskSummary) -> AnyTaskResult:
    """A `TaskResult` from a summary (used for reads and inside running attempts)."""
    result = TemporalTaskResult(
        task=task,
        id=summary.id,
        status=summary.status,
        enqueued_at=for_django(summary.enqueued_at),
        started_at=for_django(summary.started_at),
        last_attempted_at=for_django(summary.last_attempted_at),
        finished_at=for_django(summary.finished_at),
        args=summary.args,
        kwargs=summary.kwargs,
        backend=task.backend,
        errors=[
            TaskError(exception_class_path=e.exception_class_path, traceback=e.traceback)
            for e in summary.errors
        ],
        worker_ids=summary.worker_ids,
        progress=summary.progress.for_django() if summary.progress else None,
    )
    object.__setattr__(result, "_return_value", summary.return_value)
    return result


def to_task_result(state: TaskState, backend_alias: str) -> AnyTaskResult:
    """The task as Django's `TaskResult`, readable even if its path no longer imports."""
    task = load_task(state.input, backend_alias, placeholder=True)
    return build_task_result(task, summarize_state(state))
