"""Release, run-one, execute, retry, purge, list: written once for the HTTP API and the admin.

Each operation is one or a few Temporal primitives: a `release` signal (one task) or a
batch signal (every waiting task of a queue), a new run under the same workflow id
(retry), a batch deletion (purge), and visibility queries on the search attributes the
backend sets (list, count, what waits for a trigger). Nothing here needs a worker to be
running: a released task runs when one polls its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from temporalio.api.batch.v1 import BatchOperationDeletion, BatchOperationSignal
from temporalio.api.common.v1 import Payloads
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import EventType, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeBatchOperationRequest,
    DescribeTaskQueueRequest,
    StartBatchOperationRequest,
)
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import client as temporal
from django_tasks_temporal import namespace
from django_tasks_temporal.payloads import RELEASE_SIGNAL, WORKFLOW_NAME, ReleaseInput
from django_tasks_temporal.results import (
    TaskState,
    TaskSummary,
    read_task_state,
    summarize_state,
)
from django_tasks_temporal.search_attributes import (
    TASK_BACKEND,
    TASK_PATH,
    TASK_PRIORITY,
    TASK_STATE,
    WAITING,
)
from django_tasks_temporal.starting import start_task

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend
    from django_tasks_temporal.options import BackendOptions

logger = logging.getLogger("django_tasks_temporal.operations")

IDENTITY = "django-tasks-temporal"
# How many waiting tasks `run/` and `run-one/` consider, and `wait` reports on.
MAX_LISTED = 10_000
_FINISHED = {
    TaskResultStatus.SUCCESSFUL: ("Completed",),
    TaskResultStatus.FAILED: ("Failed", "Canceled", "Terminated", "TimedOut"),
}


class TaskConflict(Exception):
    """The task cannot do what was asked in its current state (HTTP 409)."""

    def __init__(self, code: Literal["task_running", "task_finished"], message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Released:
    """What a trigger released: task ids, or a batch job over a visibility query."""

    task_ids: list[str]
    count: int
    batch_job_id: str | None = None
    tasks: list[TaskSummary] | None = None  # final states, when the caller waited
    retried: bool = False  # a FAILED task started again under its id
    duplicate: bool = False  # a repeated delivery: what the first one released


@dataclass(frozen=True, kw_only=True)
class Purged:
    batch_job_id: str | None
    matched: int


@dataclass(frozen=True, kw_only=True)
class TaskRow:
    """One task as the visibility store lists it (no history read)."""

    id: str
    task_path: str
    queue_name: str
    priority: int
    status: TaskResultStatus
    waiting_for_trigger: bool
    enqueued_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TaskPage:
    rows: list[TaskRow]
    next_page_token: bytes | None


def _quote(value: str) -> str:
    """A string literal for a visibility query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# How long one answer about a task queue's pollers is reused (per process): status/ is
# polled, and Temporal itself refreshes poller information only every few seconds.
QUEUE_CHECK_SECONDS = 5.0
_queue_checks: dict[tuple[str, str], tuple[float, bool]] = {}


async def queue_served(client: Client, task_queue: str) -> bool:
    """Whether any worker polled this Temporal task queue in the last few minutes (the
    server forgets pollers after `matching.pollerHistoryTTL`, 5 minutes by default)."""
    key = (client.namespace, task_queue)
    cached = _queue_checks.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    served = bool(response.pollers)
    _queue_checks[key] = (time.monotonic() + QUEUE_CHECK_SECONDS, served)
    return served


class TaskOperations:
    """The trigger and management operations on one backend's tasks.

    Sync methods, for Django views and the admin (both synchronous).
    """

    def __init__(self, backend: TemporalTaskBackend) -> None:
        self.backend = backend
        self.config: BackendOptions = backend._usable_config()

    def _call[T](self, fn: Callable[[Client], Awaitable[T]]) -> T:
        async def call(client: Client) -> T:
            try:
                return await fn(client)
            except RPCError as e:
                # A namespace no worker or enqueue has prepared yet (a plain server).
                if not namespace.missing_search_attributes(e):
                    raise
                if not await namespace.ensure_search_attributes(client, self.config.namespace):
                    raise
                await namespace.settle(client, self.config.namespace)
                return await fn(client)

        return temporal.call(self.config, call)


    # -- queries --------------------------------------------------------------------

    def query(
        self,
        *,
        statuses: Sequence[TaskResultStatus] = (),
        queue_name: str | None = None,
        task_path: str | None = None,
        task_id: str | None = None,
        task_ids: Sequence[str] = (),
        waiting: bool = False,
        closed_before: datetime | None = None,
    ) -> str:
        """A visibility query selecting this backend's tasks (`task_ids`: any of these)."""
        clauses = [
            f"WorkflowType = {_quote(WORKFLOW_NAME)}",
            f"{TASK_BACKEND.name} = {_quote(self.backend.alias)}",
        ]
        if queue_name is not None:
            clauses.append(f"TaskQueue = {_quote(self.config.temporal_task_queue(queue_name))}")
        else:
            # Only this backend's task queues: another project (or test) may share the
            # namespace and the backend alias, but not the task queues.
            own, others = _quote(self.config.task_queue), _quote(self.config.task_queue + ".")
            clauses.append(f"(TaskQueue = {own} OR TaskQueue STARTS_WITH {others})")
        if task_path:
            clauses.append(f"{TASK_PATH.name} = {_quote(task_path)}")
        if task_id:
            clauses.append(f"WorkflowId = {_quote(task_id)}")
        if task_ids:
            clauses.append(f"WorkflowId IN ({', '.join(_quote(i) for i in task_ids)})")
        if waiting:
            clauses.append(f"{TASK_STATE.name} = {_quote(WAITING)}")
            clauses.append("ExecutionStatus = 'Running'")
        execution_statuses = [s for status in statuses for s in _FINISHED.get(status, ("Running",))]
        if execution_statuses:
            listed = ", ".join(_quote(s) for s in dict.fromkeys(execution_statuses))
            clauses.append(f"ExecutionStatus IN ({listed})")
        if closed_before is not None:
            clauses.append("ExecutionStatus != 'Running'")
            clauses.append(f"CloseTime < {_quote(closed_before.astimezone(UTC).isoformat())}")
        return " AND ".join(clauses)

    def _row(self, execution: WorkflowExecution) -> TaskRow:
        attributes = execution.typed_search_attributes
        status = {
            WorkflowExecutionStatus.RUNNING: TaskResultStatus.READY,
            WorkflowExecutionStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
        }.get(execution.status or WorkflowExecutionStatus.RUNNING, TaskResultStatus.FAILED)
        return TaskRow(
            id=execution.id,
            task_path=attributes.get(TASK_PATH) or "",
            queue_name=self.config.django_queue_name(execution.task_queue) or execution.task_queue,
            priority=attributes.get(TASK_PRIORITY) or 0,
            # Visibility cannot tell READY from RUNNING: read the task for that.
            status=status,
            waiting_for_trigger=status == TaskResultStatus.READY
            and attributes.get(TASK_STATE) == WAITING,
            enqueued_at=execution.start_time,
            finished_at=execution.close_time,
        )

    async def _list(
        self, client: Client, query: str, page_size: int, page_token: bytes | None
    ) -> TaskPage:
        listing = client.list_workflows(query, page_size=page_size, next_page_token=page_token)
        await listing.fetch_next_page()
        rows = [self._row(e) for e in listing.current_page or ()]
        return TaskPage(rows=rows, next_page_token=listing.next_page_token)

    def list_tasks(
        self, query: str, *, page_size: int = 100, page_token: bytes | None = None
    ) -> TaskPage:
        """One page of tasks, newest first, through Temporal's visibility API."""
        return self._call(lambda c: self._list(c, query, page_size, page_token))

    @staticmethod
    async def _count(client: Client, query: str) -> int:
        return (await client.count_workflows(query)).count

    def count(self, query: str) -> int:
        return self._call(lambda c: self._count(c, query))

    def count_by_status(self, query: str) -> dict[str, int]:
        """Task counts by Temporal execution status ("Running", "Completed", ...)."""

        async def count(client: Client) -> dict[str, int]:
            result = await client.count_workflows(f"{query} GROUP BY ExecutionStatus")
            return {str(group.group_values[0]): group.count for group in result.groups}

        return self._call(count)

    # -- reading one task -----------------------------------------------------------

    async def _state(self, client: Client, task_id: str) -> TaskState:
        return await read_task_state(client, task_id, self.backend)

    async def _summary(self, client: Client, task_id: str) -> TaskSummary:
        summary = summarize_state(await self._state(client, task_id))
        if summary.status != TaskResultStatus.READY:
            return summary
        served = await queue_served(client, self.config.temporal_task_queue(summary.queue_name))
        return dataclasses.replace(summary, queue_served=served)

    def get(self, task_id: str) -> TaskSummary:
        """The task as plain data; `TaskResultDoesNotExist` for an unknown id.

        A READY task also says whether a worker serves its queue (`queue_served`).
        """
        return self._call(lambda c: self._summary(c, task_id))

    def get_many(self, task_ids: Sequence[str]) -> dict[str, TaskSummary]:
        """Several tasks read concurrently (ids that vanished in between are left out)."""

        async def read(client: Client) -> dict[str, TaskSummary]:
            async def one(task_id: str) -> TaskSummary | None:
                try:
                    return await self._summary(client, task_id)
                except TaskResultDoesNotExist:
                    return None

            summaries = await asyncio.gather(*(one(i) for i in task_ids))
            return {s.id: s for s in summaries if s is not None}

        return self._call(read)

    # -- triggers -------------------------------------------------------------------

    async def _signal(self, client: Client, task_id: str, force: bool) -> None:
        await client.get_workflow_handle(task_id).signal(RELEASE_SIGNAL, ReleaseInput(force=force))

    async def _waiting(self, client: Client, queue_name: str) -> list[WorkflowExecution]:
        """Tasks waiting for a trigger on a queue, in the order they should run."""
        query = self.query(queue_name=queue_name, waiting=True)
        waiting = [e async for e in client.list_workflows(query, limit=MAX_LISTED)]
        # Visibility (on SQL stores) cannot ORDER BY: highest priority, then oldest.
        waiting.sort(
            key=lambda e: (-(e.typed_search_attributes.get(TASK_PRIORITY) or 0), e.start_time)
        )
        return waiting

    async def _finals(self, client: Client, task_ids: list[str], wait: float) -> list[TaskSummary]:
        """Wait up to `wait` seconds for tasks to finish, then read each one."""

        async def finished(task_id: str) -> None:
            with contextlib.suppress(Exception):  # its outcome is read below
                await client.get_workflow_handle(task_id).result(follow_runs=False)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(finished(i) for i in task_ids)), timeout=wait)
        states = await asyncio.gather(*(self._state(client, i) for i in task_ids))
        return [summarize_state(s) for s in states]

    def run(
        self,
        queue_name: str,
        *,
        max_tasks: int = 0,
        force: bool = False,
        wait: float = 0,
        delivery: str | None = None,
    ) -> Released:
        """Release the tasks waiting on a trigger-gated queue (`max_tasks` 0: all).

        With a limit, the ones that should run first are released; without one, every
        waiting task is. A Temporal batch signal does it (its job id is returned), or
        one signal per task when there is nothing to batch or the server's batch limit
        is reached. `delivery` names one delivery of a trigger (see `_release`).
        """

        async def run(client: Client) -> Released:
            waiting = [e.id for e in await self._waiting(client, queue_name)]
            chosen = waiting
            if max_tasks:  # leave out tasks released a moment ago (as run_one does)
                window = waiting[: max_tasks * 2 + 10]
                signalled = await asyncio.gather(
                    *(self._release_signalled(client, i) for i in window)
                )
                chosen = [i for i, done in zip(window, signalled, strict=True) if not done]
                chosen = chosen[:max_tasks]
            batch = delivery is not None or (not max_tasks and len(chosen) > 1)
            released = await self._release(
                client, chosen, force, f"run:{queue_name}", delivery, batch=batch
            )
            return await self._with_finals(client, released, wait)

        return self._call(run)

    def run_one(
        self, queue_name: str, *, force: bool = False, wait: float = 0, delivery: str | None = None
    ) -> Released:
        """Release the waiting task that should run next (highest priority, then oldest)."""

        async def run_one(client: Client) -> Released:
            for execution in await self._waiting(client, queue_name):
                # A task released while no worker ran has not updated its search
                # attribute yet: skip it, so two triggers release two tasks.
                if await self._release_signalled(client, execution.id):
                    continue
                released = await self._release(
                    client,
                    [execution.id],
                    force,
                    f"run-one:{queue_name}",
                    delivery,
                    batch=delivery is not None,
                )
                return await self._with_finals(client, released, wait)
            return Released(task_ids=[], count=0)

        return self._call(run_one)

    async def _with_finals(self, client: Client, released: Released, wait: float) -> Released:
        if not wait or not released.task_ids:
            return released
        tasks = await self._finals(client, released.task_ids, wait)
        return dataclasses.replace(released, tasks=tasks)

    async def _release(
        self,
        client: Client,
        task_ids: list[str],
        force: bool,
        trigger: str,
        delivery: str | None,
        *,
        batch: bool,
    ) -> Released:
        """Signal `task_ids`, once per delivery of a trigger.

        A delivery (an Idempotency-Key, or Cloud Scheduler's job name and schedule time)
        becomes the batch job's id, which Temporal never reuses: a repeated delivery is
        refused by the server, and answered with what the first one released (kept in
        the job's `reason`). Without a batch (nothing to batch, or the server's limit of
        concurrent batch jobs reached) each task gets its own signal.
        """
        if not task_ids:
            return Released(task_ids=[], count=0)
        job_id = self._job_id(trigger, delivery) if delivery else str(uuid.uuid4())
        if batch:
            [payload] = await client.data_converter.encode([ReleaseInput(force=force)])
            request = StartBatchOperationRequest(
                namespace=client.namespace,
                job_id=job_id,
                executions=[ExecutionRef(workflow_id=i) for i in task_ids],
                reason=json.dumps({"released": task_ids}),
                signal_operation=BatchOperationSignal(
                    signal=RELEASE_SIGNAL, identity=IDENTITY, input=Payloads(payloads=[payload])
                ),
            )
            try:
                await client.workflow_service.start_batch_operation(request)
                return Released(task_ids=task_ids, count=len(task_ids), batch_job_id=job_id)
            except RPCError as e:
                if e.status == RPCStatusCode.ALREADY_EXISTS and delivery:
                    return await self._first_delivery(client, job_id)
                if e.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                    raise
                logger.warning("Temporal's batch job limit is reached; signalling one by one.")
        await asyncio.gather(*(self._signal(client, i, force) for i in task_ids))
        return Released(task_ids=task_ids, count=len(task_ids))

    def _job_id(self, trigger: str, delivery: str) -> str:
        digest = hashlib.sha256(
            f"{self.backend.alias}|{self.config.task_queue}|{trigger}|{delivery}".encode()
        ).hexdigest()
        return f"django-tasks-temporal-{digest[:40]}"

    @staticmethod
    async def _start_batch(client: Client, request: StartBatchOperationRequest) -> str | None:
        """Start a batch job; None when the server runs its limit of batch jobs already."""
        request.namespace = client.namespace
        request.job_id = str(uuid.uuid4())
        try:
            await client.workflow_service.start_batch_operation(request)
        except RPCError as e:
            if e.status == RPCStatusCode.RESOURCE_EXHAUSTED:
                return None  # the caller falls back to one call per task
            raise
        return request.job_id

    @staticmethod
    async def _first_delivery(client: Client, job_id: str) -> Released:
        job = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
        )
        try:
            task_ids = [str(i) for i in json.loads(job.reason)["released"]]
        except (ValueError, KeyError, TypeError):
            task_ids = []
        return Released(task_ids=task_ids, count=len(task_ids), batch_job_id=job_id, duplicate=True)

    @staticmethod
    async def _release_signalled(client: Client, task_id: str) -> bool:
        history = await client.get_workflow_handle(task_id).fetch_history()
        return any(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            and e.workflow_execution_signaled_event_attributes.signal_name == RELEASE_SIGNAL
            for e in history.events
        )

    def execute(
        self, task_id: str, *, force: bool = False, allow_retry: bool = False, wait: float = 0
    ) -> Released:
        """Run one task now: release it if it waits, or re-run it if it FAILED.

        Raises `TaskResultDoesNotExist` for an unknown id and `TaskConflict` when the
        task is running, or finished (and not FAILED with `allow_retry`).
        """

        async def execute(client: Client) -> Released:
            state = await self._state(client, task_id)
            if state.status == TaskResultStatus.RUNNING:
                raise TaskConflict("task_running", "The task is running.")
            retried = state.status == TaskResultStatus.FAILED and allow_retry
            if retried:
                await self._retry(client, state)
            elif state.status != TaskResultStatus.READY:
                raise TaskConflict(
                    "task_finished",
                    f"The task has finished ({state.status}); "
                    "a FAILED task runs again with allow_retry.",
                )
            else:
                await self._signal(client, task_id, force)
            tasks = await self._finals(client, [task_id], wait) if wait else None
            return Released(task_ids=[task_id], count=1, tasks=tasks, retried=retried)

        return self._call(execute)

    async def _retry(self, client: Client, state: TaskState) -> None:
        """A new run under the same id, carrying the earlier attempts; runs at once."""
        run_input = dataclasses.replace(
            state.input,
            wait_for_release=False,
            run_after=None,
            earlier_attempts=state.attempts,
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):  # a duplicate delivery
            await start_task(client, self.config, run_input, state.id, rerun=True)

    def retry(self, task_id: str) -> Released:
        """Re-run a FAILED task under its id (the admin's "retry")."""
        return self.execute(task_id, allow_retry=True)

    def purge(
        self,
        *,
        days: float = 7,
        statuses: Sequence[TaskResultStatus] = (),
        queue_name: str | None = None,
    ) -> Purged:
        """Delete finished tasks that closed more than `days` ago, with a batch job."""
        query = self.query(
            statuses=statuses or tuple(_FINISHED),
            queue_name=queue_name,
            closed_before=datetime.now(UTC) - timedelta(days=days),
        )

        async def purge(client: Client) -> Purged:
            matched = await self._count(client, query)
            if not matched:
                return Purged(batch_job_id=None, matched=0)
            job_id = await self._start_batch(
                client,
                StartBatchOperationRequest(
                    visibility_query=query,
                    reason="django-tasks-temporal: purge finished tasks",
                    deletion_operation=BatchOperationDeletion(identity=IDENTITY),
                ),
            )
            if job_id is None:  # the server's batch limit is reached: delete one by one
                async for execution in client.list_workflows(query, limit=MAX_LISTED):
                    await client.workflow_service.delete_workflow_execution(
                        DeleteWorkflowExecutionRequest(
                            namespace=client.namespace,
                            workflow_execution=ExecutionRef(
                                workflow_id=execution.id, run_id=execution.run_id
                            ),
                        )
                    )
            return Purged(batch_job_id=job_id, matched=matched)

        return self._call(purge)
