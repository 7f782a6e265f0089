"""One page of the task list: visibility's rows completed by reading each task, and the counts.

The list pages through Temporal's visibility API (one page per request, page tokens in
the query string), then reads the tasks of that page concurrently (`get_many`) for what
visibility cannot say: READY or RUNNING, when the task started, how many attempts.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.tasks import TaskResultStatus
from django.utils.http import urlencode

from django_tasks_temporal.admin.forms import OPEN, STATUS_CHOICES, WAITING
from django_tasks_temporal.admin.pages import Section
from django_tasks_temporal.operations import TaskOperations, TaskRow
from django_tasks_temporal.results import TaskSummary

logger = logging.getLogger("django_tasks_temporal.admin")

_STATUS_QUERIES: dict[str, dict[str, Any]] = {
    OPEN: {"statuses": [TaskResultStatus.READY]},  # every open workflow: READY or RUNNING
    WAITING: {"waiting": True},
    TaskResultStatus.SUCCESSFUL.value: {"statuses": [TaskResultStatus.SUCCESSFUL]},
    TaskResultStatus.FAILED.value: {"statuses": [TaskResultStatus.FAILED]},
}


@dataclass(frozen=True, kw_only=True)
class ListedTask:
    """One row: what visibility lists, completed by reading the task when it could be."""

    row: TaskRow
    summary: TaskSummary | None  # None: it vanished (purged) between list and read

    @property
    def path_parts(self) -> list[str]:
        """The task path cut after each dot, where a narrow column may break it."""
        return re.findall(r"[^.]+\.?|\.", self.row.task_path)

    @property
    def status(self) -> TaskResultStatus:
        return self.summary.status if self.summary else self.row.status

    @property
    def waiting_for_trigger(self) -> bool:
        return self.summary.waiting_for_trigger if self.summary else self.row.waiting_for_trigger

    @property
    def started_at(self) -> datetime | None:
        return self.summary.started_at if self.summary else None

    @property
    def finished_at(self) -> datetime | None:
        return self.summary.finished_at if self.summary else self.row.finished_at

    @property
    def attempts(self) -> int | None:
        return len(self.summary.worker_ids) if self.summary else None

    @property
    def run_after_ahead(self) -> bool:
        run_after = self.summary and self.summary.run_after
        return bool(run_after and run_after > datetime.now(UTC))

    @property
    def last_error(self) -> str | None:
        """The class name of the task's last error, for a glance at why it failed."""
        errors = self.summary.errors if self.summary else []
        return errors[-1].exception_class_path.rsplit(".", 1)[-1] if errors else None


@dataclass(frozen=True)
class Choice:
    display: str
    query_string: str
    selected: bool


def _counts(ops: TaskOperations, filters: dict[str, Any]) -> dict[str, int]:
    """Tasks per status filter for the other filters (two visibility counts)."""
    by_execution = ops.count_by_status(ops.query(**filters))
    total = sum(by_execution.values())
    running, completed = by_execution.get("Running", 0), by_execution.get("Completed", 0)
    return {
        "": total,
        OPEN: running,
        WAITING: ops.count(ops.query(**filters, waiting=True)),
        TaskResultStatus.SUCCESSFUL.value: completed,
        TaskResultStatus.FAILED.value: total - running - completed,  # cancelled, timed out...
    }


FILTERS = ("status", "queue", "task", "q")


def sidebar_filters(
    section: Section, params: dict[str, str], rows: list[TaskRow], counts: dict[str, int]
) -> list[tuple[str, list[Choice]]]:
    """The sidebar: each filter's choices, as links that keep the other filters."""

    def choices(name: str, values: list[tuple[str, str]]) -> list[Choice]:
        return [Choice(label, query_string({**params, name: value}), params[name] == value)
                for value, label in values]

    everything = [("", "All")]
    queues = {"default", *section.backend.queues, *section.backend.config.trigger_queues}
    queues |= {r.queue_name for r in rows} | ({params["queue"]} - {""})
    paths = {r.task_path for r in rows} | ({params["task"]} - {""})
    filters = [
        ("status", choices("status", everything + [
            (value, f"{label} ({counts[value]})") for value, label in STATUS_CHOICES])),
        ("queue", choices("queue", everything + [
            (q, q) for q in sorted(queues, key=lambda q: (q != "default", q))])),
        ("task", choices("task", everything + [(p, p) for p in sorted(paths)])),
    ]
    if len(section.aliases) > 1:  # one section per backend: no "All" here
        filters.insert(0, ("backend", choices("backend", [(a, a) for a in section.aliases])))
    return filters


@dataclass(frozen=True, kw_only=True)
class Listing:
    """One page of the list, with the counts per status of the same filters."""

    tasks: list[ListedTask]
    next_page_token: bytes | None
    counts: dict[str, int]


def read_listing(
    ops: TaskOperations, filters: dict[str, Any], status: str, page_size: int,
    page_token: bytes | None,
) -> Listing:
    started = time.perf_counter()
    query = ops.query(**filters, **_STATUS_QUERIES.get(status, {}))
    page = ops.list_tasks(query, page_size=page_size, page_token=page_token)
    listed = time.perf_counter()
    summaries = ops.get_many(list(dict.fromkeys(row.id for row in page.rows)))
    read = time.perf_counter()
    counts = _counts(ops, filters)
    logger.debug("Task list: %d rows listed in %.0f ms, read in %.0f ms, counted in %.0f ms",
                 len(page.rows), (listed - started) * 1000, (read - listed) * 1000,
                 (time.perf_counter() - read) * 1000)
    # A retried task is a new run under the same id: list it once (its latest run comes
    # first, newest first) and show it as it is now.
    rows: dict[str, TaskRow] = {}
    for row in page.rows:
        rows.setdefault(row.id, row)
    tasks = [ListedTask(row=row, summary=summaries.get(row.id)) for row in rows.values()]
    return Listing(tasks=tasks, next_page_token=page.next_page_token, counts=counts)


def query_string(params: dict[str, Any]) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


