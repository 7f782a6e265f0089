"""Temporal Schedules from OPTIONS["schedules"], against the session's real dev server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.tasks import TaskResultStatus
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from django_tasks_temporal import client as temporal
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.operations import TaskOperations
from django_tasks_temporal.schedule_specs import PAUSED_NOTE, schedule_id
from django_tasks_temporal.schedule_sync import list_prefix, sync_schedules
from django_tasks_temporal.schedules import ScheduleConflict, ScheduleNotFound, ScheduleOperations
from tests.conftest import ThreadWorker, wait_finished, wait_for
from tests.schedules_support import declared, describe, remove_schedules

NAMES = ["tick", "nightly", "report", "hourly", "kept", "gone", "taken"]
NIGHTLY = {"task": "tests.tasks.echo", "cron": "30 2 * * *", "time_zone": "Europe/Warsaw",
           "kwargs": {"report": "sales"}}
HOURLY = {"task": "tests.tasks.add", "cron": "0 * * * *", "args": [1, 2], "overlap": "allow_all"}


@pytest.fixture(autouse=True)
def no_schedule_left_behind(backend: TemporalTaskBackend) -> Iterator[None]:
    yield
    remove_schedules(backend, NAMES)


def outcomes(report: Any) -> dict[str, str]:
    return {r.name: r.outcome for r in report.results}


def test_an_every_2_schedule_runs_tasks_that_read_like_any_other(
    backend: TemporalTaskBackend,
) -> None:
    schedules = {"report": {"task": "tests.scheduled_tasks.report", "every": 2,
                            "args": ["sales"]}}
    with declared(backend, schedules) as backend:
        assert outcomes(ScheduleOperations(backend).sync()) == {"report": "created"}
        worker = ThreadWorker(backend, queues=["reports"]).start()  # the task's own queue
        ops = ScheduleOperations(backend)
        runs = wait_for(lambda: len(r := ops.get("report").recent_runs) >= 2 and r)
        results = [wait_finished(backend, run.task_id) for run in runs[:2]]
        worker.stop()
        for run, result in zip(runs[:2], results, strict=True):
            assert run.task_id.startswith(f"{schedule_id(backend.config, 'report')}-")
            assert result.status == TaskResultStatus.SUCCESSFUL
            assert result.return_value == "sales report" and result.args == ["sales"]
            # Enqueued when the server started it (the workflow's start), not at sync time.
            assert abs(result.enqueued_at - run.started_at) < timedelta(seconds=1)
            assert result.enqueued_at <= result.started_at <= result.finished_at
            summary = TaskOperations(backend).get(run.task_id)
            assert summary.queue_name == "reports" and summary.priority == 40
        # Every 2 s; a time that came while the previous run was open was skipped (overlap).
        gap = (runs[0].scheduled_at - runs[1].scheduled_at).total_seconds()
        assert gap > 0 and gap % 2 == 0


def test_cron_and_time_zone_give_the_expected_next_times(backend: TemporalTaskBackend) -> None:
    with declared(backend, {"nightly": NIGHTLY}) as backend:
        ops = ScheduleOperations(backend)
        ops.sync()
        summary = ops.get("nightly")
    warsaw = ZoneInfo("Europe/Warsaw")
    day = datetime.now(warsaw).date()
    expected = []
    while len(expected) < 5:
        moment = datetime(day.year, day.month, day.day, 2, 30, tzinfo=warsaw)
        if moment > datetime.now(UTC):
            expected.append(moment.astimezone(UTC))
        day += timedelta(days=1)
    assert summary.next_run_times == expected
    assert summary.sync_state == "synced" and summary.when == "cron '30 2 * * *' (Europe/Warsaw)"


def test_a_paused_schedule_stays_paused_when_its_cron_changes(
    backend: TemporalTaskBackend,
) -> None:
    with declared(backend, {"nightly": NIGHTLY}) as backend:
        ScheduleOperations(backend).sync()
        paused = ScheduleOperations(backend).pause("nightly", "Warehouse closed this week.")
        assert paused.paused and paused.note == "Warehouse closed this week."
    with declared(backend, {"nightly": {**NIGHTLY, "cron": "45 3 * * *"}}) as backend:
        ops = ScheduleOperations(backend)
        assert outcomes(ops.sync()) == {"nightly": "updated"}
        summary = ops.get("nightly")
    assert summary.paused and summary.note == "Warehouse closed this week."
    warsaw = ZoneInfo("Europe/Warsaw")
    assert {(t.astimezone(warsaw).hour, t.minute) for t in summary.next_run_times} == {(3, 45)}


def test_a_changed_paused_declaration_applies_and_an_unchanged_one_does_not(
    backend: TemporalTaskBackend,
) -> None:
    with declared(backend, {"nightly": {**NIGHTLY, "paused": True}}) as backend:
        ops = ScheduleOperations(backend)
        ops.sync()
        assert ops.get("nightly").note == PAUSED_NOTE
        ops.unpause("nightly", "Needed tonight after all.")
    with declared(backend, {"nightly": {**NIGHTLY, "paused": True, "jitter": 30}}) as backend:
        ScheduleOperations(backend).sync()  # still declared paused: the operator's unpause holds
        assert not ScheduleOperations(backend).get("nightly").paused
    with declared(backend, {"nightly": {**NIGHTLY, "paused": False}}) as backend:
        ScheduleOperations(backend).sync()  # True -> False in settings: applied
        assert not ScheduleOperations(backend).get("nightly").paused
        ScheduleOperations(backend).pause("nightly", "Operator pause.")
    with declared(backend, {"nightly": {**NIGHTLY, "paused": True}}) as backend:
        ScheduleOperations(backend).sync()  # False -> True in settings: that is applied
        summary = ScheduleOperations(backend).get("nightly")
        assert summary.paused and summary.note == PAUSED_NOTE


def create_foreign(backend: TemporalTaskBackend, name: str) -> None:
    """A schedule someone else made, whose id collides with a declared one."""

    async def create(client: Client) -> None:
        action = ScheduleActionStartWorkflow("someone.Else", id="foreign", task_queue="other")
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=7))])
        await client.create_schedule(schedule_id(backend.config, name),
                                     Schedule(action=action, spec=spec))

    temporal.call(backend.config, create)


def listed(backend: TemporalTaskBackend) -> list[str]:
    """The ids a sync's list call sees now (it lags behind changes)."""
    return [e.id for e in temporal.call(backend.config, lambda c: list_prefix(c, backend))]


def test_a_foreign_schedule_with_a_colliding_id_is_blocked_and_untouched(
    backend: TemporalTaskBackend,
) -> None:
    create_foreign(backend, "taken")
    with declared(backend, {"taken": NIGHTLY, "nightly": NIGHTLY}) as backend:
        ops = ScheduleOperations(backend)
        wait_for(lambda: listed(backend) == [schedule_id(backend.config, "taken")])
        report = ops.sync()
        assert outcomes(report) == {"taken": "blocked", "nightly": "created"}
        assert not report.ok and "does not own" in report.results[0].detail
        assert ops.get("taken").sync_state == "blocked"
        with pytest.raises(ScheduleConflict) as refused:
            ops.trigger("taken")
        assert refused.value.code == "schedule_blocked"
    with declared(backend, {}) as backend:
        assert outcomes(ScheduleOperations(backend).sync()) == {"nightly": "deleted"}
        with pytest.raises(ScheduleNotFound):
            ScheduleOperations(backend).get("taken")  # not ours: unknown, not shown
    foreign = describe(backend, "taken")
    assert foreign is not None and foreign.schedule.spec.intervals[0].every == timedelta(days=7)
    assert not foreign.schedule.state.paused


def test_an_owned_undeclared_schedule_is_deleted_unless_no_prune(
    backend: TemporalTaskBackend,
) -> None:
    with declared(backend, {"kept": NIGHTLY, "gone": HOURLY}) as backend:
        ScheduleOperations(backend).sync()
    with declared(backend, {"kept": NIGHTLY}) as backend:
        ops = ScheduleOperations(backend)
        wait_for(lambda: len(ops.list()) == 2)  # the list is eventually consistent
        assert outcomes(ops.sync(prune=False)) == {"kept": "unchanged", "gone": "kept"}
        assert [(s.name, s.sync_state) for s in ops.list()] == [
            ("kept", "synced"), ("gone", "orphan")
        ]
        assert outcomes(ops.sync(dry_run=True)) == {"kept": "unchanged", "gone": "deleted"}
        assert describe(backend, "gone") is not None  # a dry run changes nothing
        assert outcomes(ops.sync()) == {"kept": "unchanged", "gone": "deleted"}
    assert describe(backend, "gone") is None and describe(backend, "kept") is not None


def test_two_syncs_racing_leave_one_schedule(backend: TemporalTaskBackend) -> None:
    with declared(backend, {"nightly": NIGHTLY, "hourly": HOURLY}) as backend:

        async def race(client: Client) -> list[Any]:
            return list(await asyncio.gather(
                sync_schedules(client, backend), sync_schedules(client, backend)
            ))

        first, second = temporal.call(backend.config, race)
        for name in ("nightly", "hourly"):
            assert sorted([outcomes(first)[name], outcomes(second)[name]]) == [
                "created", "unchanged"
            ]
        wait_for(lambda: len(ScheduleOperations(backend).list()) == 2)
        assert all(s.sync_state == "synced" for s in ScheduleOperations(backend).list())


def test_trigger_pause_unpause_and_backfill(backend: TemporalTaskBackend, worker: Any) -> None:
    with declared(backend, {"hourly": HOURLY}) as backend:
        ops = ScheduleOperations(backend)
        with pytest.raises(ScheduleConflict) as not_synced:
            ops.trigger("hourly")
        assert not_synced.value.code == "schedule_not_synced"
        ops.sync()
        triggered = ops.trigger("hourly")
        assert triggered.task_id and not triggered.skipped
        assert wait_finished(backend, triggered.task_id).return_value == 3
        assert ops.pause("hourly", "Quiet hours.").paused
        assert not ops.unpause("hourly", "Back on.").paused
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        ops.backfill("hourly", now - timedelta(hours=3, minutes=30), now - timedelta(minutes=30),
                     "allow_all")
        backfilled = wait_for(lambda: len(r := ops.get("hourly").recent_runs) == 4 and r)
        nominal = sorted(r.scheduled_at for r in backfilled[:3])
        assert nominal == [now - timedelta(hours=h) for h in (3, 2, 1)]
        with pytest.raises(ScheduleNotFound):
            ops.pause("no-such-schedule", "")


def test_the_worker_syncs_at_start_unless_told_not_to(backend: TemporalTaskBackend) -> None:
    with declared(backend, {"nightly": NIGHTLY}, sync_schedules_on_start=False) as redeclared:
        ThreadWorker(redeclared).start().stop()
        assert describe(redeclared, "nightly") is None
    with declared(backend, {"nightly": NIGHTLY}) as redeclared:
        ThreadWorker(redeclared, sync_schedules=False).start().stop()  # --no-sync-schedules
        assert describe(redeclared, "nightly") is None
        ThreadWorker(redeclared).start().stop()
        assert describe(redeclared, "nightly") is not None
