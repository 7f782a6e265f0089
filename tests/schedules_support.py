"""What the schedule tests share: re-declaring a test's backend, reading and removing schedules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.tasks import task_backends
from django.test import override_settings
from temporalio.client import Client, ScheduleDescription
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import client as temporal
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.schedule_specs import schedule_id
from django_tasks_temporal.schedule_sync import list_prefix
from tests.conftest import tasks_setting


@contextlib.contextmanager
def declared(backend: TemporalTaskBackend, schedules: dict[str, Any],
             **options: Any) -> Iterator[TemporalTaskBackend]:
    """The test's backend (same server, same task queue) with other declarations."""
    config = backend.config
    host = options.pop("target_host", config.target_host)
    setting = tasks_setting(host, task_queue=config.task_queue, schedules=schedules, **options)
    with override_settings(TASKS=setting):
        redeclared = task_backends["default"]
        assert isinstance(redeclared, TemporalTaskBackend)
        yield redeclared


def describe(backend: TemporalTaskBackend, name: str) -> ScheduleDescription | None:
    """The schedule as Temporal has it (None: there is none), read by id."""

    async def read(client: Client) -> ScheduleDescription | None:
        try:
            return await client.get_schedule_handle(schedule_id(backend.config, name)).describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return temporal.call(backend.config, read)


def remove_schedules(backend: TemporalTaskBackend, names: list[str]) -> None:
    """Delete the test's schedules (listed, and named: the list lags), so none keeps firing."""

    async def remove(client: Client) -> None:
        ids = {e.id for e in await list_prefix(client, backend)}
        ids |= {schedule_id(backend.config, n) for n in names}
        for id in ids:
            try:
                await client.get_schedule_handle(id).delete()
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise

    temporal.call(backend.config, remove)
