"""A Temporal server that stops and comes back: the schedule's missed times still run.

The test gets a dev server of its own (its state in a file that survives the restart),
so the session's server is not disturbed.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import task_backends
from django.test import override_settings
from temporalio.client import Client

from django_tasks_temporal import client as temporal
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.devserver import free_port, start_dev_server
from django_tasks_temporal.schedule_specs import schedule_id
from django_tasks_temporal.schedules import ScheduleOperations
from tests.conftest import tasks_setting, wait_for

EVERY = 5
OUTAGE = 13  # seconds: at least two of the schedule's times fall in it

pytestmark = pytest.mark.slow


def nominal_times(backend: TemporalTaskBackend, id: str) -> set[datetime]:
    """The nominal time of every run the schedule started (from the runs' ids)."""

    async def runs(client: Client) -> set[datetime]:
        query = f"TemporalScheduledById = '{id}'"
        return {datetime.fromisoformat(e.id.removeprefix(f"{id}-"))
                async for e in client.list_workflows(query)}

    return temporal.call(backend.config, runs)


def test_a_server_restart_loses_no_run_within_the_catchup_window(tmp_path: object) -> None:
    port, state = free_port(), f"{tmp_path}/temporal.db"
    server = start_dev_server(port=port, db_filename=state)
    schedules = {"tick": {"task": "tests.tasks.noop", "every": EVERY, "overlap": "allow_all",
                          "catchup_window": 600}}
    try:
        with override_settings(TASKS=tasks_setting(server.target_host, schedules=schedules)):
            backend = task_backends["default"]
            assert isinstance(backend, TemporalTaskBackend)
            ScheduleOperations(backend).sync()
            id = schedule_id(backend.config, "tick")
            wait_for(lambda: nominal_times(backend, id), timeout=30)
            server.stop()
            stopped = datetime.now(UTC)
            time.sleep(OUTAGE)
            server = start_dev_server(port=port, db_filename=state)
            back = datetime.now(UTC)
            missed = _slots(stopped, back)
            assert len(missed) >= 2

            def caught_up() -> set[datetime] | None:
                times = nominal_times(backend, id)
                return times if max(times) >= back + timedelta(seconds=EVERY) else None

            times = wait_for(caught_up, timeout=60, interval=0.5)
            assert set(missed) <= times, sorted(set(missed) - times)
            assert times == set(_slots(min(times), max(times) + timedelta(seconds=1)))
    finally:
        server.stop()


def _slots(start: datetime, end: datetime) -> list[datetime]:
    """Every time of an `every: EVERY` schedule (epoch + n * EVERY) in [start, end)."""
    moment = math.ceil(start.timestamp() / EVERY) * EVERY
    slots = []
    while moment < end.timestamp():
        slots.append(datetime.fromtimestamp(moment, UTC))
        moment += EVERY
    return slots


def test_a_namespace_without_the_search_attributes_gets_them_on_first_sync() -> None:
    server = start_dev_server(search_attributes=False, dynamic_config={})  # a plain server
    schedules = {"tick": {"task": "tests.tasks.noop", "cron": "@daily"}}
    try:
        with override_settings(TASKS=tasks_setting(server.target_host, schedules=schedules)):
            backend = task_backends["default"]
            assert isinstance(backend, TemporalTaskBackend)
            report = ScheduleOperations(backend).sync()
            assert [r.outcome for r in report.results] == ["created"]
            assert ScheduleOperations(backend).get("tick").exists
    finally:
        server.stop()
