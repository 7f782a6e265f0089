"""What a task's page shows: its fields, its arguments as JSON, its attempts, the Web UI link."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils.formats import date_format
from django.utils.timezone import localtime

from django_tasks_temporal.admin.pages import Section
from django_tasks_temporal.payloads import AttemptRecord
from django_tasks_temporal.results import TaskSummary, parse_time


def temporal_ui_url(section: Section, task_id: str) -> str | None:
    base: str | None = getattr(settings, "TASKS_ADMIN_TEMPORAL_UI_URL", None)
    if not base:
        return None
    namespace = quote(section.backend.config.namespace, safe="")
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(task_id, safe='')}"


def _when(value: datetime | None) -> str:
    return date_format(localtime(value), "Y-m-d H:i:s") if value else "-"


def task_fields(summary: TaskSummary) -> list[tuple[str, Any]]:
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


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class AttemptRow:
    number: int
    record: AttemptRecord
    started_at: datetime | None
    finished_at: datetime | None


def attempt_rows(summary: TaskSummary) -> list[AttemptRow]:
    return [
        AttemptRow(number=n, record=a, started_at=parse_time(a.started_at),
                   finished_at=parse_time(a.finished_at))
        for n, a in enumerate(summary.attempts, start=1)
    ]
