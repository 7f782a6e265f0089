"""Django-free dataclasses that cross the workflow boundary.

Every workflow and activity takes exactly one of these as input, so fields can be added
later without breaking running workflows (new fields always have defaults).
"""

# No `from __future__ import annotations` here: temporalio resolves string annotations on
# every decode, which made decoding these classes ~3x slower.
from dataclasses import dataclass, field
from typing import Any

WORKFLOW_NAME = "django_tasks_temporal.RunTask"
ACTIVITY_NAME = "django_tasks_temporal.run_task_attempt"
RELEASE_SIGNAL = "release"

# ApplicationError types the activity raises for attempts that were not the task's fault.
WORKER_SHUTDOWN_ERROR = "django_tasks_temporal.WorkerShutdown"


@dataclass(frozen=True, kw_only=True)
class RetryPolicyInput:
    """How often a task that raises is attempted, and the pause between attempts."""

    max_attempts: int = 1
    initial_interval: float = 1.0  # seconds before the second attempt
    backoff_coefficient: float = 2.0
    maximum_interval: float | None = None  # seconds; None = 100 x initial_interval


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
    enqueued_at: str  # ISO 8601, aware
    run_after: str | None = None  # ISO 8601, aware; the earliest time the task may run
    wait_for_release: bool = False  # trigger-gated queue: wait for a `release` signal
    retry: RetryPolicyInput = field(default_factory=RetryPolicyInput)
    timeout: float | None = None  # seconds one attempt may run; None = no limit
    heartbeat_timeout: float = 10.0  # the workflow task timeout: how soon a lost worker shows
    max_lost_attempts: int = 10  # worker losses tolerated before the task is FAILED
    # A FAILED task retried under its id (`execute/<id>/` with allow_retry) starts a new
    # run that carries the earlier run's attempts, so its TaskResult shows all of them.
    earlier_attempts: list["AttemptRecord"] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ReleaseInput:
    """A trigger's request to run a waiting task; `force` also skips `run_after`."""

    force: bool = False


@dataclass(frozen=True, kw_only=True)
class ErrorRecord:
    exception_class_path: str
    traceback: str


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    """One attempt as the workflow saw it (a lost attempt has no `finished_at`)."""

    worker_id: str
    started_at: str | None = None
    finished_at: str | None = None
    error: ErrorRecord | None = None


@dataclass(frozen=True, kw_only=True)
class RunAttemptInput:
    """The activity's input: the task plus what earlier attempts did (for TaskContext)."""

    task: RunTaskInput
    workflow_id: str
    attempt: int
    previous_attempts: list[AttemptRecord] = field(default_factory=list)
    history_length: int = 0  # when the attempt was scheduled; 3 = the very first task


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """What one attempt produced: a JSON return value, or the error the task raised.

    `lost_attempts` are attempts before this one whose worker died (the activity finds
    them when its workflow task is a retry), so the workflow can count them.
    """

    worker_id: str
    started_at: str
    finished_at: str
    succeeded: bool
    return_value: Any = None
    error: ErrorRecord | None = None
    lost_attempts: list[AttemptRecord] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    """The workflow's result: the task's return value and every attempt."""

    return_value: Any
    attempts: list[AttemptRecord]


# The memo key holding the attempts so far (upserted while the task waits to retry).
ATTEMPTS_MEMO = "attempts"
