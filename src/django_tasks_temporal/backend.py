"""`TemporalTaskBackend`: django.tasks' backend API on top of Temporal workflows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from django.core import checks
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import client as temporal
from django_tasks_temporal.exceptions import InvalidBackendOptions
from django_tasks_temporal.options import BackendOptions, parse_options
from django_tasks_temporal.payloads import WORKFLOW_NAME, RetryPolicyInput, RunTaskInput
from django_tasks_temporal.results import (
    TemporalTaskResult,
    belongs_to,
    read_task_state,
    to_task_result,
    wait_closed,
)
from django_tasks_temporal.schedule_specs import task_problems
from django_tasks_temporal.search_attributes import TASK_BACKEND
from django_tasks_temporal.starting import check_arguments_size, start_task
from django_tasks_temporal.tasks import TemporalTask
from django_tasks_temporal.timezones import for_django

if TYPE_CHECKING:
    AnyTask = Task[..., Any]
    AnyTaskResult = TaskResult[..., Any]


P = ParamSpec("P")
R = TypeVar("R")


class TemporalTaskBackend(BaseTaskBackend):
    task_class = TemporalTask

    # Tasks may be deferred with run_after (a durable Temporal timer).
    supports_defer = True
    # Coroutine tasks run on the worker's event loop.
    supports_async_task = True
    # Results are read back from Temporal, from any process, with no worker running.
    supports_get_result = True
    # Priorities map onto Temporal task-queue priority keys.
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.config: BackendOptions = parse_options(self.options)

    # -- validation -----------------------------------------------------------------

    def validate_task(self, task: AnyTask) -> None:
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and (
            isinstance(max_attempts, bool) or not isinstance(max_attempts, int)
            or max_attempts < 1
        ):
            raise InvalidTask(f"max_attempts must be a whole number >= 1, got {max_attempts!r}.")
        timeout = getattr(task, "timeout", None)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise InvalidTask(f"timeout must be a number of seconds > 0, got {timeout!r}.")

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(
                f"TASKS[{self.alias!r}]: {problem.message}",
                hint=problem.hint,
                id=f"django_tasks_temporal.{problem.id}",
            )
            for problem in [*self.config.problems, *task_problems(self)]
        ]

    def _usable_config(self) -> BackendOptions:
        if self.config.problems:
            first = self.config.problems[0]
            raise InvalidBackendOptions(
                f"TASKS[{self.alias!r}] has invalid OPTIONS: {first.message} "
                "Run 'manage.py check' to see every problem."
            )
        return self.config

    # -- enqueue --------------------------------------------------------------------

    def _run_input(
        self, task: AnyTask, args: Any, kwargs: Any, config: BackendOptions
    ) -> RunTaskInput:
        self.validate_task(task)
        try:
            json_args: list[Any] = normalize_json(list(args))  # type: ignore[assignment]
            json_kwargs: dict[str, Any] = normalize_json(dict(kwargs))  # type: ignore[assignment]
        except (TypeError, ValueError) as e:
            raise TypeError(f"Task arguments must be JSON serialisable: {e}") from e
        check_arguments_size(json_args, json_kwargs, config)
        run_after = task.run_after
        if run_after is not None and timezone.is_naive(run_after):
            run_after = timezone.make_aware(run_after)  # only reachable with USE_TZ=False
        max_attempts = getattr(task, "max_attempts", None) or config.max_attempts
        return RunTaskInput(
            task_path=task.module_path,
            args=json_args,
            kwargs=json_kwargs,
            backend=self.alias,
            queue_name=task.queue_name,
            priority=task.priority,
            takes_context=task.takes_context,
            enqueued_at=datetime.now(UTC).isoformat(),
            run_after=run_after.isoformat() if run_after else None,
            wait_for_release=task.queue_name in config.trigger_queues,
            retry=RetryPolicyInput(
                max_attempts=max_attempts,
                initial_interval=config.retry_initial_interval,
                backoff_coefficient=config.retry_backoff_coefficient,
                maximum_interval=config.retry_maximum_interval,
            ),
            timeout=getattr(task, "timeout", None) or config.timeout,
            heartbeat_timeout=config.heartbeat_timeout,
            max_lost_attempts=config.max_lost_attempts,
        )

    def _starter(
        self,
        run_input: RunTaskInput,
        config: BackendOptions,
        workflow_id: str,
        *,
        rerun: bool = False,
    ) -> Callable[[Client], Awaitable[None]]:
        """Start the task's workflow; `rerun` starts a new run of a FAILED task's id."""

        async def start(client: Client) -> None:
            await start_task(client, config, run_input, workflow_id, rerun=rerun)

        return start

    def _enqueued_result(
        self, task: Task[P, R], workflow_id: str, run_input: RunTaskInput
    ) -> TaskResult[P, R]:
        return TemporalTaskResult(
            task=task,
            id=workflow_id,
            status=TaskResultStatus.READY,
            enqueued_at=for_django(datetime.fromisoformat(run_input.enqueued_at)),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=run_input.args,
            kwargs=run_input.kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )

    def enqueue(
        self, task: Task[P, R], args: list[Any], kwargs: dict[str, Any]
    ) -> TaskResult[P, R]:
        config = self._usable_config()
        run_input = self._run_input(task, args, kwargs, config)
        workflow_id = str(uuid.uuid4())
        temporal.call(config, self._starter(run_input, config, workflow_id))
        result = self._enqueued_result(task, workflow_id, run_input)
        task_enqueued.send(type(self), task_result=result)
        return result

    async def aenqueue(
        self, task: Task[P, R], args: list[Any], kwargs: dict[str, Any]
    ) -> TaskResult[P, R]:
        config = self._usable_config()
        run_input = self._run_input(task, args, kwargs, config)
        workflow_id = str(uuid.uuid4())
        await temporal.acall(config, self._starter(run_input, config, workflow_id))
        result = self._enqueued_result(task, workflow_id, run_input)
        await task_enqueued.asend(type(self), task_result=result)
        return result

    # -- results --------------------------------------------------------------------

    def _reader(self, result_id: str) -> Callable[[Client], Awaitable[AnyTaskResult]]:
        async def read(client: Client) -> AnyTaskResult:
            state = await read_task_state(client, result_id, self)
            return to_task_result(state, self.alias)

        return read

    def get_result(self, result_id: str) -> AnyTaskResult:
        if not isinstance(result_id, str) or not result_id:
            raise TaskResultDoesNotExist(result_id)
        return temporal.call(self._usable_config(), self._reader(result_id))

    async def aget_result(self, result_id: str) -> AnyTaskResult:
        if not isinstance(result_id, str) or not result_id:
            raise TaskResultDoesNotExist(result_id)
        return await temporal.acall(self._usable_config(), self._reader(result_id))

    # -- waiting --------------------------------------------------------------------

    def _waiter(
        self, result_id: str, timeout: float | None
    ) -> Callable[[Client], Awaitable[AnyTaskResult]]:
        async def wait(client: Client) -> AnyTaskResult:
            try:
                await asyncio.wait_for(wait_closed(client, result_id), timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"Task {result_id!r} did not finish within {timeout:g}s."
                ) from None
            state = await read_task_state(client, result_id, self)
            return to_task_result(state, self.alias)

        return wait

    def wait_result(self, result_id: str, *, timeout: float | None = None) -> AnyTaskResult:
        """Block until the task has finished (one long poll), then read it.

        Raises `TimeoutError` after `timeout` seconds (None: no limit) and
        `TaskResultDoesNotExist` for an unknown id.
        """
        if not isinstance(result_id, str) or not result_id:
            raise TaskResultDoesNotExist(result_id)
        return temporal.call(self._usable_config(), self._waiter(result_id, timeout))

    async def await_result(
        self, result_id: str, *, timeout: float | None = None
    ) -> AnyTaskResult:
        if not isinstance(result_id, str) or not result_id:
            raise TaskResultDoesNotExist(result_id)
        return await temporal.acall(self._usable_config(), self._waiter(result_id, timeout))

    # -- cancel ---------------------------------------------------------------------

    def _canceller(self, result_id: str) -> Callable[[Client], Awaitable[bool]]:
        async def cancel(client: Client) -> bool:
            handle = client.get_workflow_handle(result_id)
            try:
                description = await handle.describe()
            except RPCError as e:
                if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                    raise TaskResultDoesNotExist(result_id) from None
                raise
            alias = description.typed_search_attributes.get(TASK_BACKEND) or ""
            if description.workflow_type != WORKFLOW_NAME or not belongs_to(
                self, description.task_queue, alias
            ):
                raise TaskResultDoesNotExist(result_id)
            if description.close_time is not None:
                return False
            try:
                await handle.cancel()
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:  # finished in between
                    return False
                raise
            return True

        return cancel

    def cancel(self, result_id: str) -> bool:
        """Cancel a READY or RUNNING task; it ends FAILED with `TaskCancelled`.

        Returns False when the task had already finished. A running attempt learns of
        the cancel at its next heartbeat (within `heartbeat_timeout`/2); a sync
        function's thread cannot be interrupted: it runs on, keeping its slot, and its
        outcome and signals are dropped.
        """
        return temporal.call(self._usable_config(), self._canceller(result_id))

    async def acancel(self, result_id: str) -> bool:
        return await temporal.acall(self._usable_config(), self._canceller(result_id))
