"""A task's attempts as the admin shows them: those that ran, and which error is the outcome.

`TaskSummary.attempts` also holds the error that ended a task no attempt of which ran
(cancelled while it waited): a record with neither a worker nor a start. That error is
the task's outcome, not an attempt. Only a FAILED task has an outcome error (its last
one); the errors of the attempts before it, or of those before a success, are history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.tasks import TaskResultStatus

from django_tasks_temporal.payloads import AttemptRecord, ErrorRecord
from django_tasks_temporal.results import TaskSummary, parse_time


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One attempt that ran (or runs): its number counts from 1, across retries."""

    number: int
    worker_id: str  # "" while the worker running it is not known yet
    started_at: datetime | None
    finished_at: datetime | None
    error: ErrorRecord | None


@dataclass(frozen=True, kw_only=True)
class AttemptHistory:
    attempts: list[Attempt]  # those that ran: the page's count and its table
    outcome_error: ErrorRecord | None  # what a FAILED task failed with
    outcome_attempt: int | None  # the attempt that raised it; None: no attempt ran
    earlier_errors: list[Attempt]  # failed attempts before the outcome: history


def ran(record: AttemptRecord) -> bool:
    """Whether the record is an attempt a worker ran, not an error without one."""
    return bool(record.worker_id or record.started_at)


def history(summary: TaskSummary) -> AttemptHistory:
    attempts = [
        Attempt(number=n, worker_id=r.worker_id, started_at=parse_time(r.started_at),
                finished_at=parse_time(r.finished_at), error=r.error)
        for n, r in enumerate((r for r in summary.attempts if ran(r)), start=1)
    ]
    failed = [a for a in attempts if a.error is not None]
    last = summary.attempts[-1] if summary.attempts else None
    if summary.status != TaskResultStatus.FAILED or last is None or last.error is None:
        return AttemptHistory(attempts=attempts, outcome_error=None, outcome_attempt=None,
                              earlier_errors=failed)
    if not ran(last):  # e.g. cancelled before any attempt ran
        return AttemptHistory(attempts=attempts, outcome_error=last.error,
                              outcome_attempt=None, earlier_errors=failed)
    return AttemptHistory(attempts=attempts, outcome_error=last.error,
                          outcome_attempt=attempts[-1].number, earlier_errors=failed[:-1])
