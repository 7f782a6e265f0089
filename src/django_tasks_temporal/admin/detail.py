"""What a task's page shows: its fields, arguments and return value, attempts, errors, links."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.tasks import TaskResultStatus
from django.utils.formats import date_format
from django.utils.timezone import localtime

from django_tasks_temporal.admin.attempts import AttemptHistory, history
from django_tasks_temporal.admin.pages import Section, changelist_url
from django_tasks_temporal.results import TaskSummary


def temporal_ui_url(section: Section, task_id: str) -> str | None:
    base: str | None = getattr(settings, "TASKS_ADMIN_TEMPORAL_UI_URL", None)
    if not base:
        return None
    namespace = quote(section.backend.config.namespace, safe="")
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(task_id, safe='')}"


def _when(value: datetime | None) -> str:
    return date_format(localtime(value), "Y-m-d H:i:s") if value else "-"


def task_fields(summary: TaskSummary, attempts: AttemptHistory) -> list[tuple[str, Any]]:
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
        ("Attempts", len(attempts.attempts)),  # the rows of the attempts table
        ("Worker ids", ", ".join(summary.worker_ids) or "-"),
    ]


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def detail_context(summary: TaskSummary, section: Section) -> dict[str, Any]:
    """The task page's context, but for the actions the user may take."""
    attempts = history(summary)
    successful = summary.status == TaskResultStatus.SUCCESSFUL
    return {
        "section": section,
        "task": summary,
        "task_fields": task_fields(summary, attempts),
        "args_json": as_json(summary.args),
        "kwargs_json": as_json(summary.kwargs),
        "return_json": as_json(summary.return_value) if successful else None,
        "history": attempts,
        "finished": summary.status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED),
        "temporal_ui_url": temporal_ui_url(section, summary.id),
        "changelist_url": changelist_url(section),
    }
