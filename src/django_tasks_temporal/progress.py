"""Live progress of a running task: reported from inside it, read like its status.

    from django_tasks_temporal import report_progress

    @task
    def build_report(pages):
        for done, page in enumerate(pages, 1):
            render(page)
            report_progress(done=done, total=len(pages), message=f"page {done}")

`report_progress` is cheap and may be called as often as the code likes: it only notes
the value; the worker sends the latest one with the attempt's heartbeats, at most once a
second (heartbeats are not history events). Outside a worker (Django's test backends, a
shell) it does nothing. The last value is read back with `TaskResult.progress`,
`status/<id>/` and the admin, while the task runs and after it ended.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django_tasks_temporal.payloads import ProgressRecord
from django_tasks_temporal.timezones import for_django

if TYPE_CHECKING:
    from django_tasks_temporal.attempts import Attempt

# The attempt whose function runs in this thread or asyncio task (set by the worker).
current_attempt: ContextVar[Attempt | None] = ContextVar("current_attempt", default=None)

MAX_MESSAGE = 200  # characters kept of a progress message


@dataclass(frozen=True, kw_only=True)
class TaskProgress:
    """What a task last reported: a fraction 0..1 and/or done of total, and a message."""

    fraction: float | None
    done: int | None
    total: int | None
    message: str
    reported_at: datetime | None

    @classmethod
    def from_record(cls, record: ProgressRecord | None) -> TaskProgress | None:
        if record is None:
            return None
        return cls(
            fraction=record.fraction,
            done=record.done,
            total=record.total,
            message=record.message,
            reported_at=datetime.fromisoformat(record.reported_at) if record.reported_at else None,
        )

    def for_django(self) -> TaskProgress:
        """With `reported_at` as Django code expects it (naive local without USE_TZ)."""
        return replace(self, reported_at=for_django(self.reported_at))


def report_progress(
    fraction: float | None = None,
    *,
    done: int | None = None,
    total: int | None = None,
    message: str = "",
) -> None:
    """Note the running task's progress; a no-op outside a worker.

    Give `fraction` (0 to 1), or `done` and `total` (whole numbers, fraction = done /
    total), or both; `message` is a short text (at most 200 characters are kept).
    Raises `ValueError` for a value out of range, whatever the backend.
    """
    record = _record(fraction, done, total, message)
    attempt = current_attempt.get()
    if attempt is not None:
        attempt.progress = record


def _record(
    fraction: float | None, done: int | None, total: int | None, message: str
) -> ProgressRecord:
    for name, value in (("done", done), ("total", total)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}.")
    if done is not None and total is not None and done > total:
        raise ValueError(f"done must not exceed total, got done={done!r}, total={total!r}.")
    if fraction is None and done is not None and total:
        fraction = done / total
    if fraction is not None and (
        isinstance(fraction, bool) or not isinstance(fraction, int | float)
        or not math.isfinite(fraction) or not 0 <= fraction <= 1
    ):
        raise ValueError(f"fraction must be a number from 0 to 1, got {fraction!r}.")
    if not isinstance(message, str):
        raise ValueError(f"message must be a string, got {message!r}.")
    return ProgressRecord(
        fraction=None if fraction is None else float(fraction),
        done=done,
        total=total,
        message=message[:MAX_MESSAGE],
        reported_at=datetime.now(UTC).isoformat(),
    )
