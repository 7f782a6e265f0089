"""The admin's read pages: the task list and one task's details, read through operations.

The list pages through Temporal's visibility API (one page per request, page tokens in
the query string), then reads the tasks of that page concurrently (`get_many`) for what
visibility cannot say: READY or RUNNING, when the task started, how many attempts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.timezone import localtime

from django_tasks_temporal.admin_actions import ACTIONS, changelist_url
from django_tasks_temporal.admin_forms import OPEN, STATUS_CHOICES, WAITING, TaskFilterForm
from django_tasks_temporal.admin_forms import encode_page_token as encode
from django_tasks_temporal.admin_sections import Section, page_context, section_for, shows_problems
from django_tasks_temporal.operations import TaskOperations, TaskRow
from django_tasks_temporal.results import TaskSummary, parse_time

if TYPE_CHECKING:
    from django_tasks_temporal.admin import TaskAdmin

logger = logging.getLogger(__name__)

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


def _filters(
    section: Section, params: dict[str, str], rows: list[TaskRow], counts: dict[str, int]
) -> list[tuple[str, list[Choice]]]:
    """The sidebar: each filter's choices, as links that keep the other filters."""

    def choices(name: str, values: list[tuple[str, str]]) -> list[Choice]:
        return [Choice(label, _query_string({**params, name: value}), params[name] == value)
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


def _query_string(params: dict[str, Any]) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


@shows_problems
def changelist_view(model_admin: TaskAdmin, request: HttpRequest) -> HttpResponse:
    section = section_for(request)
    form = TaskFilterForm(request.GET)
    if not form.is_valid():  # the valid filters still apply
        for errors in form.errors.values():
            messages.warning(request, " ".join(str(e) for e in errors))
    data = form.cleaned_data
    params = {"backend": section.alias, **{k: data.get(k) or "" for k in FILTERS}}
    filters = {"queue_name": params["queue"] or None, "task_path": params["task"] or None,
               "task_id": params["q"] or None}
    listing = read_listing(section.ops, filters, params["status"], model_admin.list_per_page,
                           data.get("page_token"))
    number, token = data.get("page") or 1, listing.next_page_token
    context = page_context(
        model_admin, request, "Tasks", section=section, params=params, listing=listing,
        result_count=listing.counts.get(params["status"], 0),
        filters=_filters(section, params, [t.row for t in listing.tasks], listing.counts),
        has_active_filters=any(params[k] for k in FILTERS),
        page_number=number, first_page=_query_string(params),
        next_page=token and _query_string({**params, "page_token": encode(token),
                                           "page": number + 1}),
        actions=[a for a in ACTIONS.values()
                 if model_admin.has_task_permission(request, a.permission)],
        can_purge=model_admin.has_task_permission(request, "purge_task"),
        backend_query=_query_string({"backend": section.alias}), next_url=request.get_full_path(),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/task_list.html", context)


def temporal_ui_url(section: Section, task_id: str) -> str | None:
    base: str | None = getattr(settings, "TASKS_ADMIN_TEMPORAL_UI_URL", None)
    if not base:
        return None
    namespace = quote(section.backend.config.namespace, safe="")
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(task_id, safe='')}"


def _when(value: datetime | None) -> str:
    return date_format(localtime(value), "Y-m-d H:i:s") if value else "-"


def _fields(summary: TaskSummary) -> list[tuple[str, Any]]:
    return [
        ("ID", summary.id),
        ("Task", summary.task_path),
        ("Backend", summary.backend),
        ("Queue", summary.queue_name),
        ("Priority", summary.priority),
        ("Run after", _when(summary.run_after)),
        ("Enqueued", _when(summary.enqueued_at)),
        ("Started", _when(summary.started_at)),
        ("Last attempted", _when(summary.last_attempted_at)),
        ("Finished", _when(summary.finished_at)),
        ("Attempts", len(summary.worker_ids)),
        ("Worker ids", ", ".join(summary.worker_ids) or "-"),
    ]


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@shows_problems
def detail_view(model_admin: TaskAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    section = section_for(request)
    try:
        summary = section.ops.get(object_id)
    except TaskResultDoesNotExist:
        messages.warning(request, f"Task with ID “{object_id}” does not exist. "
                         "Perhaps it was purged?")
        return HttpResponseRedirect(changelist_url(section))
    back = request.get_full_path()
    actions = [
        (a, "?" + urlencode({"backend": section.alias, "action": a.name,
                             "_selected_action": summary.id, "next": back}))
        for a in ACTIONS.values()
        if a.refusal(summary) is None and model_admin.has_task_permission(request, a.permission)
    ]
    attempts = [
        {"number": n, "record": a, "started_at": parse_time(a.started_at),
         "finished_at": parse_time(a.finished_at)}
        for n, a in enumerate(summary.attempts, start=1)
    ]
    context = page_context(
        model_admin, request, f"Task {summary.id}", section=section, task=summary,
        task_fields=_fields(summary),
        args_json=_json(summary.args), kwargs_json=_json(summary.kwargs),
        return_json=_json(summary.return_value)
        if summary.status == TaskResultStatus.SUCCESSFUL else None,
        attempts=attempts, actions=actions, action_url=reverse(
            "admin:django_tasks_temporal_task_action"),
        temporal_ui_url=temporal_ui_url(section, summary.id),
        changelist_url=changelist_url(section),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/task_detail.html", context)
