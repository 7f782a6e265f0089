"""A Temporal backend for Django's task framework (`django.tasks`).

`TemporalTaskBackend` is exported lazily: the workflow module is imported inside
Temporal's sandbox, which must never load Django through this package's `__init__`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend
    from django_tasks_temporal.progress import TaskProgress, report_progress
    from django_tasks_temporal.results import TemporalTaskResult
    from django_tasks_temporal.tasks import TemporalTask, task
    from django_tasks_temporal.waiting import await_result, wait_result

__all__ = [
    "TaskProgress",
    "TemporalTask",
    "TemporalTaskBackend",
    "TemporalTaskResult",
    "await_result",
    "report_progress",
    "task",
    "wait_result",
]

_EXPORTS = {
    "TaskProgress": "progress",
    "TemporalTaskResult": "results",
    "report_progress": "progress",
    "TemporalTask": "tasks",
    "task": "tasks",
    "TemporalTaskBackend": "backend",
    "await_result": "waiting",
    "wait_result": "waiting",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        module = import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
