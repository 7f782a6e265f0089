"""Exceptions of this backend, including the ones recorded for attempts the task never raised.

`TaskError.exception_class_path` must import, so the reasons an attempt ended without the
task raising (a lost worker, a cancel, a timeout) are real exception classes here.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.tasks.exceptions import TaskException


class TemporalUnavailable(TaskException):
    """The Temporal server could not be reached in time.

    From `enqueue`, `task_id` is the id the task was started under: if the server did
    receive the request before it became unreachable, the task exists with that id.
    """

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class InvalidBackendOptions(ImproperlyConfigured):
    """The backend's OPTIONS are invalid (the system checks say which and why)."""


class WorkerConfigurationError(ImproperlyConfigured):
    """The worker cannot start as configured (e.g. its metrics port is in use): exit 2."""


class ArgumentsTooLarge(TaskException, ValueError):
    """A task's arguments are over the size Temporal accepts; nothing was enqueued."""


# -- recorded as an attempt's error ---------------------------------------------------


class WorkerLost(Exception):
    """The worker running an attempt stopped heartbeating and did not answer (killed, OOM,
    lost machine). The attempt runs again; it does not count towards `max_attempts`."""


class WorkerShutDown(Exception):
    """The worker was stopped and its grace period ended before the attempt did. The
    attempt runs again on another worker; it does not count towards `max_attempts`."""


class AttemptOutcomeLost(Exception):
    """A live worker ran the attempt, but its outcome never reached the Temporal server
    (an outage longer than the worker keeps outcomes). The attempt runs again; it does
    not count towards `max_attempts` nor as a lost worker."""


class ResultTooLarge(Exception):
    """The task's return value is over the size Temporal accepts (the attempt FAILED)."""


class TaskCancelled(Exception):
    """The task was cancelled before it finished."""


class TaskTerminated(Exception):
    """The task's workflow was terminated on the Temporal server."""


class TaskTimedOut(Exception):
    """An attempt, or the whole task, ran longer than its configured timeout."""


class AttemptCrashed(Exception):
    """An attempt failed outside the task function (refused by Temporal, or a bug)."""
