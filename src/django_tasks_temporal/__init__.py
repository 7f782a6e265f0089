"""A Temporal backend for Django's task framework (`django.tasks`).

`TemporalTaskBackend` is exported lazily: the workflow module is imported inside
Temporal's sandbox, which must never load Django through this package's `__init__`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTask, TemporalTaskBackend

__all__ = ["TemporalTask", "TemporalTaskBackend"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from django_tasks_temporal import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
