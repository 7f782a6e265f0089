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

from django_tasks_temporal.admin.attempts import AttemptHistory, history
from django_tasks_temporal.admin.forms import OPEN, STATUS_CHOICES, WAITING, encode_page_token
from django_tasks_temporal.admin.pages import Section
from django_tasks_temporal.admin.runs import replaced_runs
from django_tasks_temporal.operations import TaskOperations, TaskRow
from django_tasks_temporal.progress import TaskProgress
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
    def progress(self) -> TaskProgress | None:
        """What a RUNNING task last reported (the list shows it as a bar)."""
        if self.summary is None or self.summary.status != TaskResultStatus.RUNNING:
            return None
        return self.summary.progress

    @property
    def queue_unserved(self) -> bool:
        """READY, and no worker polled its queue lately: nothing will run it."""
        return bool(self.summary and self.summary.queue_served is False)

    @property
    def enqueued_at(self) -> datetime | None:
        # A retry's run starts later; the task was enqueued when its first run started.
        return self.summary.enqueued_at if self.summary else self.row.enqueued_at

    @property
    def started_at(self) -> datetime | None:
        return self.summary.started_at if self.summary else None

    @property
    def finished_at(self) -> datetime | None:
        return self.summary.finished_at if self.summary else self.row.finished_at

    @property
    def history(self) -> AttemptHistory | None:
        return history(self.summary) if self.summary else None

    @property
    def attempts(self) -> int | None:
        """How many attempts ran: the count the task's page shows above its table."""
        return len(self.history.attempts) if self.history else None

    @property
    def run_after_ahead(self) -> bool:
        """Whether it is READY and waits for its run_after (a cancelled task waits no more)."""
        run_after = self.summary.run_after if self.summary else None
        return (self.status == TaskResultStatus.READY and run_after is not None
                and run_after > datetime.now(UTC))

    @property
    def outcome_error(self) -> str | None:
        """The class name of the error a FAILED task failed with, for a glance at why."""
        error = self.history and self.history.outcome_error
        return error.exception_class_path.rsplit(".", 1)[-1] if error else None

    @property
    def earlier_failures(self) -> int:
        """Failed attempts before the outcome, shown as such (a retried task may succeed)."""
        return len(self.history.earlier_errors) if self.history else 0


@dataclass(frozen=True)
class Choice:
    display: str
    query_string: str
    selected: bool


def _counts(ops: TaskOperations, filters: dict[str, Any], replaced: int) -> dict[str, int]:
    """Tasks per status filter for the other filters (two visibility counts of runs, less
    the `replaced` runs, all of them failed ones)."""
    by_execution = ops.count_by_status(ops.query(**filters))
    total = sum(by_execution.values()) - replaced
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
    replaced = replaced_runs(ops, filters)
    counts = _counts(ops, filters, len(replaced))
    logger.debug("Task list: %d rows listed in %.0f ms, read in %.0f ms, counted in %.0f ms",
                 len(page.rows), (listed - started) * 1000, (read - listed) * 1000,
                 (time.perf_counter() - read) * 1000)
    # A retried task is a new run under the same id: show its latest run, as it is now
    # (a page may hold fewer rows than its size where replaced runs were left out).
    rows: dict[str, TaskRow] = {}
    for row in page.rows:
        if row not in replaced:
            rows.setdefault(row.id, row)
    tasks = [ListedTask(row=row, summary=summaries.get(row.id)) for row in rows.values()]
    return Listing(tasks=tasks, next_page_token=page.next_page_token, counts=counts)


def query_string(params: dict[str, Any]) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def listing_context(section: Section, data: dict[str, Any], page_size: int) -> dict[str, Any]:
    """The list page's context from its valid query parameters: rows, counts, links."""
    params = {"backend": section.alias, **{k: data.get(k) or "" for k in FILTERS}}
    filters = {"queue_name": params["queue"] or None, "task_path": params["task"] or None,
               "task_id": params["q"] or None}
    listing = read_listing(section.ops, filters, params["status"], page_size,
                           data.get("page_token"))
    number, token = data.get("page") or 1, listing.next_page_token
    return {
        "section": section,
        "params": params,
        "listing": listing,
        "result_count": listing.counts.get(params["status"], 0),
        "filters": sidebar_filters(section, params, [t.row for t in listing.tasks],
                                   listing.counts),
        "has_active_filters": any(params[k] for k in FILTERS),
        "page_number": number,
        "first_page": query_string(params),
        "next_page": token and query_string(
            {**params, "page_token": encode_page_token(token), "page": number + 1}),
        "backend_query": query_string({"backend": section.alias}),
    }
