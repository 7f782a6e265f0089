"""One attempt on a worker: the `TaskResult` it shows, and exactly one outcome.

An attempt ends once: the function returns or raises, or the attempt is cut short (its
timeout, a cancel, the worker shutting down) while a sync function runs on in its
thread. Whichever comes first claims the outcome; the other is dropped, with its
signals, so `task_finished` is sent once per attempt and says what `get_result` says.

`AttemptRegistry` keeps this worker's attempts, finished ones for a while too, so that
an attempt whose heartbeats or completion did not reach the server (an outage) can
still give its real outcome when the workflow asks (`recover_attempt`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from traceback import format_exception
from typing import TYPE_CHECKING, Any, Protocol

from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.utils.json import normalize_json

from django_tasks_temporal.exceptions import ResultTooLarge
from django_tasks_temporal.payloads import (
    INTERRUPTIONS,
    AttemptRecord,
    AttemptResult,
    ErrorRecord,
    ProgressRecord,
    RunAttemptInput,
    truncate_traceback,
)
from django_tasks_temporal.results import build_task_result, summarize
from django_tasks_temporal.tasks import load_task
from django_tasks_temporal.timezones import for_django

if TYPE_CHECKING:
    AnyTask = Task[..., Any]
    AnyTaskResult = TaskResult[..., Any]

logger = logging.getLogger("django_tasks_temporal.attempts")


def error_record(e: BaseException) -> ErrorRecord:
    cls = type(e)
    return ErrorRecord(
        exception_class_path=f"{cls.__module__}.{cls.__qualname__}",
        traceback=truncate_traceback("".join(format_exception(e))),
    )


class AttemptObserver(Protocol):
    """Told when an attempt's function starts and when its outcome is claimed (metrics)."""

    def started(self, attempt: Attempt) -> None: ...

    def finished(self, attempt: Attempt) -> None: ...


class Attempt:
    """One attempt of a task on this worker."""

    def __init__(
        self,
        request: RunAttemptInput,
        worker_id: str,
        max_value_size: int,
        observer: AttemptObserver | None = None,
    ) -> None:
        self.request = request
        self.observer = observer
        self.handed_back = False  # cut short by the worker's shutdown, to run elsewhere
        self.worker_id = worker_id
        self.max_value_size = max_value_size
        self.started_at = datetime.now(UTC)
        self.task: AnyTask | None = None
        self.result: AnyTaskResult | None = None  # what the task and the signals see
        self.outcome: AttemptResult | None = None
        self.abandoned = False  # the attempt ended while its function ran on
        self.value_size = 0  # bytes of the return value as JSON
        self.function: asyncio.Future[None] | None = None  # the running task function
        self.finished: asyncio.Future[AttemptResult] | None = None  # the outcome, once known
        self.progress: ProgressRecord | None = None  # set by `report_progress`, from any thread
        self._lock = threading.Lock()

    @property
    def key(self) -> tuple[str, int]:
        return self.request.workflow_id, self.request.attempt

    @property
    def timeout(self) -> float | None:
        return self.request.task.timeout

    def load(self) -> AnyTask:
        """The task and the RUNNING `TaskResult` it sees (once; raises if it does not load)."""
        if self.task is not None:
            return self.task
        self.task = load_task(self.request.task, self.request.task.backend)
        records = [
            *self.request.previous_attempts,
            AttemptRecord(worker_id=self.worker_id, started_at=self.started_at.isoformat()),
        ]
        self.result = build_task_result(
            self.task,
            summarize(
                id=self.request.workflow_id,
                task_input=self.request.task,
                status=TaskResultStatus.RUNNING,
                enqueued_at=datetime.fromisoformat(self.request.task.enqueued_at),
                attempts=records,
            ),
        )
        return self.task

    def call_args(self) -> tuple[list[Any], dict[str, Any]]:
        assert self.task is not None and self.result is not None
        args = list(self.request.task.args)
        if self.task.takes_context:
            args.insert(0, TaskContext(task_result=self.result))
        return args, dict(self.request.task.kwargs)

    def checked_value(self, value: Any) -> Any:
        """The JSON form of a return value, refused (raising) when it is too large."""
        value = normalize_json(value)
        size = len(json.dumps(value, separators=(",", ":")).encode())
        self.value_size = size
        if size > self.max_value_size:
            raise ResultTooLarge(
                f"The return value is {size:,} bytes as JSON; the limit is "
                f"{self.max_value_size:,} bytes (OPTIONS['max_payload_size'] minus the "
                "task's record)."
            )
        return value

    # -- the one outcome -------------------------------------------------------------

    def claim(self, *, value: Any = None, error: BaseException | None = None) -> bool:
        """Record how the attempt ended, if nothing did before; True if this call did."""
        with self._lock:
            if self.outcome is not None:
                return False
            record = error_record(error) if error is not None else None
            self.outcome = AttemptResult(
                worker_id=self.worker_id,
                started_at=self.started_at.isoformat(),
                finished_at=datetime.now(UTC).isoformat(),
                succeeded=error is None,
                return_value=value,
                error=record,
                progress=self.progress,
            )
            self._update_result(record)
        if self.observer is not None:
            self.observer.finished(self)
        return True

    @property
    def retried(self) -> bool:
        """Whether the workflow will run the task again after this failed attempt."""
        return self.outcome is not None and not self.outcome.succeeded and (
            self.failures() < self.request.task.retry.max_attempts
        )

    def failures(self) -> int:
        """The task's own failures in this run of the workflow, this attempt included."""
        earlier = len(self.request.task.earlier_attempts)
        this_run = self.request.previous_attempts[earlier:]
        previous = sum(
            1 for a in this_run if a.error and a.error.exception_class_path not in INTERRUPTIONS
        )
        return previous + 1

    def _update_result(self, record: ErrorRecord | None) -> None:
        if self.result is None:
            return
        assert self.outcome is not None
        if record is None:
            status, finished_at = TaskResultStatus.SUCCESSFUL, self.outcome.finished_at
        elif self.retried:
            status, finished_at = TaskResultStatus.READY, None
        else:
            status, finished_at = TaskResultStatus.FAILED, self.outcome.finished_at
        object.__setattr__(self.result, "status", status)
        object.__setattr__(
            self.result,
            "finished_at",
            for_django(datetime.fromisoformat(finished_at)) if finished_at else None,
        )
        object.__setattr__(self.result, "_return_value", self.outcome.return_value)
        if record is not None:
            self.result.errors.append(
                TaskError(
                    exception_class_path=record.exception_class_path,
                    traceback=record.traceback,
                )
            )

    def log_retry(self) -> None:
        """One WARNING line for a failed attempt that will be retried (no traceback)."""
        assert self.outcome is not None and self.outcome.error is not None
        failures = self.failures()
        pause = self.request.task.retry.backoff(failures).total_seconds()
        last_line = _shortened(self.outcome.error.traceback.rstrip().rpartition("\n")[2])
        logger.warning(
            "Task id=%s path=%s attempt %d of %d failed: %s; retrying in %gs",
            self.request.workflow_id,
            self.request.task.task_path,
            failures,
            self.request.task.retry.max_attempts,
            last_line,
            pause,
        )


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class AttemptRegistry:
    """This worker's attempts by (workflow id, attempt number); finished ones are kept
    for `keep_seconds`, up to about `keep_bytes` of outcomes, for recovery questions."""

    def __init__(self, *, keep_seconds: float = 300.0, keep_bytes: int = 64 * 2**20) -> None:
        self.keep_seconds = keep_seconds
        self.keep_bytes = keep_bytes
        self.running: dict[tuple[str, int], Attempt] = {}
        self.started = 0  # attempts this worker took, ever
        self.last_change = time.monotonic()  # when an attempt last started or finished
        self._finished: OrderedDict[tuple[str, int], tuple[float, int, AttemptResult]] = (
            OrderedDict()
        )
        self._bytes = 0

    def start(self, attempt: Attempt) -> None:
        self.running[attempt.key] = attempt
        self.started += 1
        self.last_change = time.monotonic()

    def finished(self, attempt: Attempt, outcome: AttemptResult) -> None:
        self.running.pop(attempt.key, None)
        self.last_change = time.monotonic()
        size = attempt.value_size + (len(outcome.error.traceback) if outcome.error else 0)
        self._finished[attempt.key] = (time.monotonic(), size, outcome)
        self._bytes += size
        self._evict()

    def finished_since(self, moment: float) -> bool:
        """Whether an attempt finished after `moment` (time.monotonic())."""
        return bool(self._finished) and next(reversed(self._finished.values()))[0] >= moment

    def outcome(self, key: tuple[str, int]) -> AttemptResult | None:
        self._evict()
        entry = self._finished.get(key)
        return entry[2] if entry else None

    def _evict(self) -> None:
        oldest = time.monotonic() - self.keep_seconds
        while self._finished:
            key, (at, size, _) = next(iter(self._finished.items()))
            if at >= oldest and self._bytes <= self.keep_bytes:
                break
            del self._finished[key]
            self._bytes -= size
