"""Exceptions of this backend, including the ones recorded for attempts the task never raised.

`TaskError.exception_class_path` must import, so the reasons an attempt ended without the
task raising (a lost worker, a cancel, a timeout) are real exception classes here.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.tasks.exceptions import TaskException


class TemporalUnavailable(TaskException):
    """The Temporal server could not be reached in time."""


class InvalidBackendOptions(ImproperlyConfigured):
    """The backend's OPTIONS are invalid (the system checks say which and why)."""


class WorkerLost(Exception):
    """The worker running an attempt stopped heartbeating (killed, OOM, lost machine)."""


class TaskCancelled(Exception):
    """The task was cancelled before it finished."""


class TaskTerminated(Exception):
    """The task's workflow was terminated on the Temporal server."""


class TaskTimedOut(Exception):
    """An attempt, or the whole task, ran longer than its configured timeout."""


class AttemptCrashed(Exception):
    """An attempt failed outside the task function (a bug in the worker, not the task)."""
