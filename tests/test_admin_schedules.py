"""The admin's Schedules pages with Django's test client, on a real Temporal server: who may
see and do what, each action, and what the pages show."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.schedules import ScheduleOperations
from tests.conftest import wait_finished, wait_for
from tests.schedules_support import declared, remove_schedules
from tests.test_admin import staff_client
from tests.test_schedules import HOURLY, NIGHTLY, create_foreign

pytestmark = pytest.mark.django_db

LIST = reverse("admin:django_tasks_temporal_schedule_changelist")
ALL = ("view_schedule", "trigger_schedule", "pause_schedule", "backfill_schedule", "view_task")


def page(name: str, action: str | None = None) -> str:
    if action is None:
        return reverse("admin:django_tasks_temporal_schedule_change", args=[name])
    return reverse(f"admin:django_tasks_temporal_schedule_{action}", args=[name])


def messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def synced(backend: TemporalTaskBackend) -> Iterator[TemporalTaskBackend]:
    schedules = {"nightly": NIGHTLY, "hourly": HOURLY}
    with declared(backend, schedules) as redeclared:
        ScheduleOperations(redeclared).sync()
    with declared(backend, {**schedules, "taken": NIGHTLY}) as redeclared:
        yield redeclared
    remove_schedules(backend, ["nightly", "hourly", "taken"])


def test_permissions_exist_and_no_table_is_created() -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="django_tasks_temporal",
                                  content_type__model="schedule")
        .values_list("codename", flat=True)
    )
    assert codenames == {"view_schedule", "trigger_schedule", "pause_schedule",
                         "backfill_schedule"}
    assert "django_tasks_temporal_schedule_unmanaged" not in connection.introspection.table_names()


def test_the_list_and_a_schedule_page(synced: TemporalTaskBackend) -> None:
    create_foreign(synced, "taken")
    client = staff_client("viewer", "view_schedule")
    listed = client.get(LIST)
    assert listed.status_code == 200
    text = listed.content.decode()
    assert [row["schedule"].name for row in listed.context["rows"]] == [
        "nightly", "hourly", "taken"
    ]
    assert "cron &#x27;30 2 * * *&#x27; (Europe/Warsaw)" in text
    assert 'data-schedule="taken"' in text and "blocked" in text
    shown = client.get(page("nightly"))
    assert shown.status_code == 200
    assert [label for label, _ in shown.context["fields"]][:3] == ["Schedule id", "Task", "When"]
    assert len(shown.context["next_runs"]) == 5 and shown.context["actions"] == []
    assert "Europe/Warsaw" in shown.context["next_runs"][0][0]


def test_each_action_needs_its_own_permission(synced: TemporalTaskBackend) -> None:
    viewer = staff_client("viewer", "view_schedule")
    for action in ("trigger", "pause", "backfill"):
        assert viewer.get(page("nightly", action)).status_code == 403
    assert viewer.post(page("nightly", "pause"), {"post": "yes"}).status_code == 403
    assert staff_client("nobody").get(LIST).status_code == 403  # staff without view_schedule
    pauser = staff_client("pauser", "view_schedule", "pause_schedule")
    shown = pauser.get(page("nightly"))
    assert [action.name for action, _ in shown.context["actions"]] == ["pause"]
    assert pauser.get(page("nightly", "trigger")).status_code == 403


def test_trigger_now_starts_a_run_linked_to_its_task(
    synced: TemporalTaskBackend, worker: Any
) -> None:
    operator = staff_client("operator", *ALL)
    asked = operator.get(page("hourly", "trigger"))
    assert "Are you sure you want to run “hourly” now" in asked.content.decode()
    done = operator.post(page("hourly", "trigger"), {"post": "yes"}, follow=True)
    [message] = messages(done)
    assert message.startswith("Schedule “hourly” started task <a href=")
    [run] = ScheduleOperations(synced).get("hourly").recent_runs
    assert run.task_id in message
    wait_finished(synced, run.task_id)
    shown = operator.get(page("hourly"))
    [recent] = shown.context["recent_runs"]
    assert recent["status"] == "SUCCESSFUL" and run.task_id in recent["url"]


def test_pause_and_unpause_with_a_note(synced: TemporalTaskBackend) -> None:
    operator = staff_client("operator", *ALL)
    done = operator.post(page("nightly", "pause"), {"post": "yes", "note": "Stocktaking."},
                         follow=True)
    assert messages(done) == ["Schedule “nightly” is paused."]
    summary = ScheduleOperations(synced).get("nightly")
    assert summary.paused and summary.note == "Stocktaking."
    again = operator.get(page("nightly", "pause"), follow=True)  # already paused
    assert messages(again) == ["Schedule “nightly” was not changed: pause does not apply to "
                               "it now."]
    operator.post(page("nightly", "unpause"), {"post": "yes"})
    summary = ScheduleOperations(synced).get("nightly")
    assert not summary.paused and summary.note == "Unpaused from the admin by operator."


def test_backfill_a_past_range(synced: TemporalTaskBackend) -> None:
    operator = staff_client("operator", *ALL)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    form = {"post": "yes", "overlap": "allow_all",
            "start": (hour - timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M"),
            "end": (hour - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")}
    done = operator.post(page("hourly", "backfill"), form, follow=True)
    assert messages(done)[0].startswith("Schedule “hourly” is backfilling")
    runs = wait_for(lambda: len(r := ScheduleOperations(synced).get("hourly").recent_runs) == 2
                    and r)
    assert sorted(r.scheduled_at for r in runs) == [hour - timedelta(hours=2),
                                                    hour - timedelta(hours=1)]


@pytest.mark.parametrize("start, end, error", [
    (-1, -2, "The end must be after the start."),
    (-1, 2, "The end is in the future"),
    (-24 * 400, -1, "about 9,599 runs; backfill at most 1,000"),
])
def test_backfill_refuses_bad_ranges(synced: TemporalTaskBackend, start: int, end: int,
                                     error: str) -> None:
    operator = staff_client("operator", *ALL)
    now = timezone.now()
    form = {"post": "yes", "overlap": "allow_all",
            "start": (now + timedelta(hours=start)).strftime("%Y-%m-%dT%H:%M"),
            "end": (now + timedelta(hours=end)).strftime("%Y-%m-%dT%H:%M")}
    refused = operator.post(page("hourly", "backfill"), form)
    assert refused.status_code == 200 and error in refused.content.decode()
    assert ScheduleOperations(synced).get("hourly").runs == 0


def test_unknown_and_blocked_schedules(synced: TemporalTaskBackend) -> None:
    create_foreign(synced, "taken")
    operator = staff_client("operator", *ALL)
    gone = operator.get(page("nope"), follow=True)
    assert messages(gone) == ["Schedule “nope” does not exist. Perhaps it was deleted?"]
    blocked = operator.get(page("taken"))
    assert blocked.context["actions"] == [] and "does not own" in blocked.content.decode()
    refused = operator.post(page("taken", "trigger"), {"post": "yes"}, follow=True)
    assert "was not changed" in messages(refused)[0]


def test_a_down_server_is_a_page_not_a_500(backend: TemporalTaskBackend) -> None:
    with declared(backend, {"nightly": NIGHTLY}, target_host="127.0.0.1:9"):
        response = staff_client("viewer", "view_schedule").get(LIST)
    assert response.status_code == 503 and "127.0.0.1:9" in response.content.decode()
