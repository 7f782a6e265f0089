"""The Schedules pages: every schedule of a backend, and one schedule with its runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.timezone import localtime

from django_tasks_temporal.admin.pages import (
    Section,
    TaskPages,
    page_context,
    section_for,
    shows_problems,
)
from django_tasks_temporal.admin.schedule_actions import (
    SCHEDULE_ACTIONS,
    read_schedule,
    schedule_url,
    task_url,
)
from django_tasks_temporal.operations import TaskOperations
from django_tasks_temporal.schedule_reads import ScheduleSummary
from django_tasks_temporal.schedules import ScheduleOperations

TEMPLATES = "admin/django_tasks_temporal"


def _when(value: datetime | None, zone: str | None = None) -> str:
    if value is None:
        return "-"
    local = value.astimezone(ZoneInfo(zone)) if zone else localtime(value)
    return date_format(local, "Y-m-d H:i:s") + (f" {zone}" if zone else "")


def _seconds(value: float | None, none: str) -> str:
    return none if value is None else f"{value:g} s"


def schedule_fields(summary: ScheduleSummary) -> list[tuple[str, Any]]:
    declaration = summary.declaration
    return [
        ("Schedule id", summary.schedule_id),
        ("Task", summary.task_path),
        ("When", summary.when),
        ("Overlap", summary.overlap),
        ("Catch-up window", _seconds(summary.catchup_window, "Temporal's default (one year)")),
        ("Jitter", _seconds(summary.jitter or None, "none")),
        ("Starts", _when(declaration.start_at if declaration else None)),
        ("Ends", _when(declaration.end_at if declaration else None)),
        ("Runs started", summary.runs),
        ("Skipped (a run was open)", summary.skipped_overlap),
        ("Missed (outage past the catch-up window)", summary.missed_catchup),
        ("Created", _when(summary.created_at)),
        ("Updated", _when(summary.updated_at)),
    ]


@shows_problems
def schedule_list_view(model_admin: TaskPages, request: HttpRequest) -> HttpResponse:
    section = section_for(request)
    schedules = ScheduleOperations(section.backend).list()
    rows = [
        {
            "schedule": s,
            "url": schedule_url(section, s.name),
            "next_run": _when(s.next_run_times[0] if s.next_run_times else None),
            "last_run": s.recent_runs[0] if s.recent_runs else None,
            "last_run_url": task_url(section.alias, s.recent_runs[0].task_id)
            if s.recent_runs else None,
        }
        for s in schedules
    ]
    context = page_context(
        model_admin, request, "Schedules", section=section, rows=rows,
        backends=[(alias, "?" + urlencode({"backend": alias})) for alias in section.aliases],
    )
    return TemplateResponse(request, f"{TEMPLATES}/schedule_list.html", context)


def _recent_runs(section: Section, summary: ScheduleSummary) -> list[dict[str, Any]]:
    """The recent runs with their tasks' status (a purged task has none)."""
    ids = [run.task_id for run in summary.recent_runs]
    tasks = TaskOperations(section.backend).get_many(ids) if ids else {}
    return [
        {
            "run": run,
            "url": task_url(section.alias, run.task_id),
            "scheduled_at": _when(run.scheduled_at),
            "started_at": _when(run.started_at),
            "status": tasks[run.task_id].status.value if run.task_id in tasks else None,
        }
        for run in summary.recent_runs
    ]


@shows_problems
def schedule_detail_view(model_admin: TaskPages, request: HttpRequest, name: str) -> HttpResponse:
    section = section_for(request)
    summary = read_schedule(request, section, name)
    if summary is None:
        return HttpResponseRedirect(schedule_url(section))
    declaration = summary.declaration
    actions = [
        (action, reverse(f"admin:django_tasks_temporal_schedule_{action.name}", args=[name])
         + "?" + urlencode({"backend": section.alias}))
        for action in SCHEDULE_ACTIONS.values()
        if action.applies(summary) and model_admin.has_task_permission(request,
                                                                       action.permission)
    ]
    context = page_context(
        model_admin, request, f"Schedule {name}", section=section, schedule=summary,
        fields=schedule_fields(summary), actions=actions,
        next_runs=[(_when(t, summary.time_zone), _when(t)) for t in summary.next_run_times],
        recent_runs=_recent_runs(section, summary),
        args_json=json.dumps(declaration.args if declaration else None, indent=2),
        kwargs_json=json.dumps(declaration.kwargs if declaration else None, indent=2),
        changelist_url=schedule_url(section),
    )
    return TemplateResponse(request, f"{TEMPLATES}/schedule_detail.html", context)
