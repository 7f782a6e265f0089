"""Django-free dataclasses and rules that cross the workflow boundary.

Every workflow and activity takes exactly one of these as input, so fields can be added
later without breaking running workflows (new fields always have defaults). The few
functions here are pure and shared by the workflow and the worker, so both sides apply
the same retry and size rules.
"""

# No `from __future__ import annotations` here: temporalio resolves string annotations on
# every decode, which made decoding these classes ~3x slower.
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

WORKFLOW_NAME = "django_tasks_temporal.RunTask"
# One attempt of the task: a regular activity on the task's queue.
ACTIVITY_NAME = "django_tasks_temporal.run_task_attempt"
# After an attempt's heartbeats stopped: who ran it (a local activity reading the history)
# and what became of it (an activity on that worker's own queue).
FIND_HOLDER_ACTIVITY = "django_tasks_temporal.find_attempt_holder"
RECOVER_ACTIVITY = "django_tasks_temporal.recover_attempt"
RELEASE_SIGNAL = "release"
# The counter of lost attempts (label `outcome`: worker_lost or outcome_lost), recorded by
# the workflow on its replay-safe meter; the worker's other metrics are in metrics.py.
ATTEMPTS_LOST_METRIC = "django_tasks_attempts_lost"

# ApplicationError type of an attempt a stopping worker handed back (grace period over).
WORKER_SHUTDOWN_ERROR = "django_tasks_temporal.WorkerShutdown"

# Exception class paths recorded for attempts that ended without the task raising.
WORKER_LOST = "django_tasks_temporal.exceptions.WorkerLost"
WORKER_SHUT_DOWN = "django_tasks_temporal.exceptions.WorkerShutDown"
OUTCOME_LOST = "django_tasks_temporal.exceptions.AttemptOutcomeLost"
ATTEMPT_CRASHED = "django_tasks_temporal.exceptions.AttemptCrashed"
TASK_CANCELLED = "django_tasks_temporal.exceptions.TaskCancelled"
# Interruptions are not the task's fault: they never use up `max_attempts`.
INTERRUPTIONS = frozenset({WORKER_LOST, WORKER_SHUT_DOWN, OUTCOME_LOST})

# Sizes. Temporal refuses any payload over its blob limit (2 MiB by default); a task's
# record (attempts, errors) travels with its arguments and its return value, so both get
# the limit minus this reserve, and the record is kept within it.
RECORD_RESERVE = 320 * 1024
MAX_TRACEBACK = 32 * 1024  # characters kept of one traceback
RECORD_BUDGET = 256 * 1024  # characters of tracebacks kept over all attempts
SHORT_TRACEBACK = 2 * 1024  # what older attempts keep when the record is over budget


def recovery_task_queue(worker_id: str) -> str:
    """The task queue only the worker with this identity polls (for `recover_attempt`)."""
    return f"django-tasks-temporal/worker/{worker_id}"


@dataclass(frozen=True, kw_only=True)
class RetryPolicyInput:
    """How often a task that raises is attempted, and the pause between attempts."""

    max_attempts: int = 1
    initial_interval: float = 1.0  # seconds before the second attempt
    backoff_coefficient: float = 2.0
    maximum_interval: float | None = None  # seconds; None = 100 x initial_interval

    def backoff(self, failures: int) -> timedelta:
        """The pause after the `failures`-th failed attempt (exponential, capped)."""
        maximum = self.maximum_interval or self.initial_interval * 100
        seconds = self.initial_interval * self.backoff_coefficient ** (failures - 1)
        return timedelta(seconds=min(seconds, maximum))


@dataclass(frozen=True, kw_only=True)
class RunTaskInput:
    """Everything the workflow needs to run one Django task; also what status reads show."""

    task_path: str
    args: list[Any]
    kwargs: dict[str, Any]
    backend: str
    queue_name: str
    priority: int
    takes_context: bool
    # ISO 8601, aware; "" for runs a Temporal Schedule starts: the workflow's start time.
    enqueued_at: str
    run_after: str | None = None  # ISO 8601, aware; the earliest time the task may run
    wait_for_release: bool = False  # trigger-gated queue: wait for a `release` signal
    retry: RetryPolicyInput = field(default_factory=RetryPolicyInput)
    timeout: float | None = None  # seconds one attempt may run; None = no limit
    heartbeat_timeout: float = 10.0  # an attempt whose heartbeats stop this long is checked
    max_lost_attempts: int = 10  # worker losses tolerated before the task is FAILED
    # A FAILED task retried under its id (`execute/<id>/` with allow_retry) starts a new
    # run that carries the earlier run's attempts, so its TaskResult shows all of them.
    earlier_attempts: list["AttemptRecord"] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ReleaseInput:
    """A trigger's request to run a waiting task; `force` also skips `run_after`."""

    force: bool = False


@dataclass(frozen=True, kw_only=True)
class ProgressRecord:
    """What a running task last reported about its progress (see `progress.py`)."""

    fraction: float | None = None  # 0..1
    done: int | None = None
    total: int | None = None
    message: str = ""
    reported_at: str = ""  # ISO 8601, aware


@dataclass(frozen=True, kw_only=True)
class ErrorRecord:
    exception_class_path: str
    traceback: str


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    """One attempt as the workflow saw it (one cut short may lack its times)."""

    worker_id: str
    started_at: str | None = None
    finished_at: str | None = None
    error: ErrorRecord | None = None
    progress: ProgressRecord | None = None  # the last progress it reported


@dataclass(frozen=True, kw_only=True)
class RunAttemptInput:
    """The activity's input: the task plus what earlier attempts did (for TaskContext)."""

    task: RunTaskInput
    workflow_id: str
    attempt: int  # 1 for the first attempt, counting every earlier one
    previous_attempts: list[AttemptRecord] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """What one attempt produced: a JSON return value, or why it failed."""

    worker_id: str
    started_at: str | None
    finished_at: str | None
    succeeded: bool
    return_value: Any = None
    error: ErrorRecord | None = None
    progress: ProgressRecord | None = None

    def record(self) -> AttemptRecord:
        return AttemptRecord(
            worker_id=self.worker_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            error=self.error,
            progress=self.progress,
        )


@dataclass(frozen=True, kw_only=True)
class FindHolderInput:
    workflow_id: str
    run_id: str
    started_event_id: int  # the attempt's ActivityTaskStarted event


@dataclass(frozen=True, kw_only=True)
class AttemptHolder:
    """The worker that started an attempt, and when ("" / None: not known)."""

    worker_id: str = ""
    started_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecoverAttemptInput:
    workflow_id: str
    attempt: int
    started_at: str | None  # when the holder started it (from the history)


@dataclass(frozen=True, kw_only=True)
class RecoverAttemptResult:
    """A live worker's answer for an attempt whose heartbeats stopped reaching the server.

    `outcome` is the attempt's real result (its body finished, or was waited for);
    without it, `ran_it` says whether this worker process is the one that started it
    (it then no longer has the outcome) or a later process with the same identity.
    """

    outcome: AttemptResult | None = None
    ran_it: bool = False


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    """The workflow's result: the task's return value and every attempt."""

    return_value: Any
    attempts: list[AttemptRecord]


# The memo key holding the attempts so far (upserted after an attempt that did not end
# the task, so a reader sees them while the task waits to retry or runs again).
ATTEMPTS_MEMO = "attempts"


def truncate_traceback(text: str, limit: int = MAX_TRACEBACK) -> str:
    """`text` cut to at most about `limit` characters: its head and its tail (where the
    exception and its message are), with a line saying how much was cut."""
    if len(text) <= limit:
        return text
    head = limit // 8
    tail = limit - head
    cut = len(text) - head - tail
    return (
        f"{text[:head]}\n[... {cut:,} characters cut: the traceback was {len(text):,} "
        f"characters, the limit is {limit:,} ...]\n{text[-tail:]}"
    )


def compact_attempts(attempts: list[AttemptRecord]) -> list[AttemptRecord]:
    """Keep the tracebacks of all attempts within RECORD_BUDGET, shortening the oldest."""
    total = sum(len(a.error.traceback) for a in attempts if a.error)
    if total <= RECORD_BUDGET:
        return attempts
    compacted = list(attempts)
    for i, attempt in enumerate(compacted[:-1]):  # the latest attempt keeps its own
        if total <= RECORD_BUDGET:
            break
        if attempt.error and len(attempt.error.traceback) > SHORT_TRACEBACK:
            short = truncate_traceback(attempt.error.traceback, SHORT_TRACEBACK)
            total -= len(attempt.error.traceback) - len(short)
            compacted[i] = replace(attempt, error=replace(attempt.error, traceback=short))
    return compacted
