"""Periodic tasks as Temporal Schedules: sync, read, trigger, pause, unpause, backfill.

The one place schedule operations are written, for `manage.py sync_temporal_schedules`,
the worker (which syncs when it starts), the trigger service and the admin. Declarations
come from OPTIONS["schedules"] (`schedule_declarations`), become Temporal Schedules in
`schedule_specs`, are synced by `schedule_sync` and read by `schedule_reads`. Only
schedules this backend owns are changed: one in its id prefix that it does not own is
"blocked", and looks unknown to the trigger service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from temporalio.api.enums.v1 import ScheduleOverlapPolicy as OverlapProto
from temporalio.api.schedule.v1 import SchedulePatch, TriggerImmediatelyRequest
from temporalio.api.workflowservice.v1 import PatchScheduleRequest
from temporalio.client import Client, ScheduleBackfill, ScheduleDescription, ScheduleHandle
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import client as temporal
from django_tasks_temporal.schedule_reads import (
    ScheduleSummary,
    declared_summary,
    orphan_summary,
)
from django_tasks_temporal.schedule_specs import OVERLAP, id_prefix, owned, schedule_id
from django_tasks_temporal.schedule_sync import SyncReport, list_prefix, sync_schedules

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend
    from django_tasks_temporal.options import BackendOptions

__all__ = ["ScheduleConflict", "ScheduleNotFound", "ScheduleOperations", "ScheduleSummary",
           "SyncReport", "Triggered", "sync_at_worker_start"]

logger = logging.getLogger("django_tasks_temporal.schedules")

# How long a trigger waits to see the run it started (it shows in ~50 ms).
TRIGGER_WAIT = 3.0


class ScheduleNotFound(LookupError):
    """Neither declared nor owned by this backend (HTTP 404)."""


class ScheduleConflict(Exception):
    """The schedule exists only as a declaration, or its id is taken (HTTP 409)."""

    def __init__(self, code: Literal["schedule_not_synced", "schedule_blocked"],
                 message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Triggered:
    """What a trigger started: the run's task id, or None when the overlap policy skipped it
    (or the run did not show within TRIGGER_WAIT, e.g. a repeated delivery)."""

    name: str
    task_id: str | None
    skipped: bool


class ScheduleOperations:
    """One backend's schedules. Sync methods, for views, the admin and the command."""

    def __init__(self, backend: TemporalTaskBackend) -> None:
        self.backend = backend
        self.config: BackendOptions = backend._usable_config()

    def _call[T](self, fn: Callable[[Client], Awaitable[T]]) -> T:
        return temporal.call(self.config, fn)

    def sync(self, *, dry_run: bool = False, prune: bool = True) -> SyncReport:
        return self._call(lambda c: sync_schedules(c, self.backend, dry_run=dry_run,
                                                   prune=prune))

    # -- reading --------------------------------------------------------------------

    async def _describe(self, client: Client, id: str) -> ScheduleDescription | None:
        try:
            return await client.get_schedule_handle(id).describe()
        except RPCError as e:
            if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise

    async def _read(self, client: Client) -> list[ScheduleSummary]:
        prefix = id_prefix(self.config)
        declared = {d.name: d for d in self.config.schedules}
        listed = await list_prefix(client, self.backend)
        orphans = sorted(e.id.removeprefix(prefix) for e in listed
                         if owned(self.backend, e.typed_search_attributes)
                         and e.id.removeprefix(prefix) not in declared)
        names = [*declared, *orphans]
        descriptions = await asyncio.gather(
            *(self._describe(client, schedule_id(self.config, n)) for n in names)
        )
        summaries = []
        for name, description in zip(names, descriptions, strict=True):
            if name in declared:
                summaries.append(declared_summary(self.backend, declared[name],
                                                  schedule_id(self.config, name), description))
            elif description is not None:  # deleted since the list, if None
                summaries.append(orphan_summary(name, description))
        return summaries

    def list(self) -> list[ScheduleSummary]:
        """The declared schedules (in declaration order), then the orphans (by name)."""
        return self._call(self._read)

    async def _summary(self, client: Client, name: str) -> ScheduleSummary:
        declaration = next((d for d in self.config.schedules if d.name == name), None)
        id = schedule_id(self.config, name)
        description = await self._describe(client, id)
        if declaration is not None:
            return declared_summary(self.backend, declaration, id, description)
        if description is None or not owned(self.backend, description.typed_search_attributes):
            raise ScheduleNotFound(name)
        return orphan_summary(name, description)

    def get(self, name: str) -> ScheduleSummary:
        """One schedule; `ScheduleNotFound` when neither declared nor owned."""
        return self._call(lambda c: self._summary(c, name))

    # -- changing -------------------------------------------------------------------

    async def _owned(self, client: Client, name: str) -> tuple[ScheduleHandle, ScheduleSummary]:
        """The handle of a schedule this backend owns, or the reason it has none."""
        summary = await self._summary(client, name)
        if summary.sync_state == "blocked":
            raise ScheduleConflict("schedule_blocked", summary.problem)
        if not summary.exists:
            raise ScheduleConflict("schedule_not_synced", f"Schedule {name!r} is declared "
                                   "but not on the server yet; run manage.py "
                                   "sync_temporal_schedules.")
        return client.get_schedule_handle(summary.schedule_id), summary

    def trigger(self, name: str, *, delivery: str | None = None) -> Triggered:
        """Start a run now (the schedule's overlap policy applies; a paused schedule runs
        too). `delivery` names one request: a repeated one starts nothing more."""

        async def trigger(client: Client) -> Triggered:
            handle, before = await self._owned(client, name)
            request_id = (hashlib.sha256(f"{handle.id}|{delivery}".encode()).hexdigest()
                          if delivery else str(uuid.uuid4()))
            await client.workflow_service.patch_schedule(PatchScheduleRequest(
                namespace=client.namespace, schedule_id=handle.id, request_id=request_id,
                identity="django-tasks-temporal",
                patch=SchedulePatch(trigger_immediately=TriggerImmediatelyRequest(
                    overlap_policy=OverlapProto.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED)),
            ))
            deadline = time.monotonic() + TRIGGER_WAIT
            while time.monotonic() < deadline:
                info = (await handle.describe()).info
                if info.num_actions > before.runs and info.recent_actions:
                    newest = info.recent_actions[-1].action  # oldest first
                    task_id = getattr(newest, "workflow_id", None)
                    return Triggered(name=name, task_id=task_id, skipped=False)
                if info.num_actions_skipped_overlap > before.skipped_overlap:
                    return Triggered(name=name, task_id=None, skipped=True)
                await asyncio.sleep(0.05)
            return Triggered(name=name, task_id=None, skipped=False)

        return self._call(trigger)

    def pause(self, name: str, note: str) -> ScheduleSummary:
        """Pause (a sync keeps it paused); `note` says why, in the admin and the Web UI."""

        async def pause(client: Client) -> ScheduleSummary:
            handle, _ = await self._owned(client, name)
            await handle.pause(note=note)
            return await self._summary(client, name)

        return self._call(pause)

    def unpause(self, name: str, note: str) -> ScheduleSummary:
        async def unpause(client: Client) -> ScheduleSummary:
            handle, _ = await self._owned(client, name)
            await handle.unpause(note=note)
            return await self._summary(client, name)

        return self._call(unpause)

    def backfill(self, name: str, start: datetime, end: datetime, overlap: str) -> None:
        """Take the actions of [start, end) now, as if that time were passing."""

        async def backfill(client: Client) -> None:
            handle, _ = await self._owned(client, name)
            await handle.backfill(
                ScheduleBackfill(start_at=start, end_at=end, overlap=OVERLAP[overlap])
            )

        self._call(backfill)


async def sync_at_worker_start(client: Client, backend: TemporalTaskBackend) -> None:
    """The worker's sync when it starts: logged, and never fatal (tasks still run).

    It creates and updates but never deletes: in a rolling deploy a worker still on the
    old code would delete what the new code declares. `manage.py sync_temporal_schedules`
    (a deploy step) deletes what is no longer declared.
    """
    try:
        report = await sync_schedules(client, backend, prune=False)
    except Exception:
        logger.exception("Syncing TASKS[%r]'s schedules failed; the worker runs on",
                         backend.alias)
        return
    for result in report.results:
        if result.outcome in ("blocked", "invalid"):
            logger.error("Schedule %r %s: %s", result.name, result.outcome, result.detail)
    if report.results:
        logger.info("%s", report.summary())
