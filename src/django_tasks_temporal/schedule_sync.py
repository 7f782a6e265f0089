"""Make a backend's Temporal Schedules match OPTIONS["schedules"]: one list call, then writes.

The schedules in the backend's id prefix are listed once. A declared schedule that is
missing is created; one whose hash differs is updated, keeping the operator's pause and
note (a fresh `Schedule` would unpause it); an owned schedule that is no longer declared is
deleted (unless `prune` is off). A schedule in the prefix that this backend does not own
is never touched: its declaration is reported as blocked. The list is eventually
consistent, so "missing" is only a guess: a create that finds the id taken (a schedule
created a moment ago, or by a sync running at the same time) reads that schedule and
carries on from there. Nothing is written in a dry run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from temporalio.client import (
    Client,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleListDescription,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import namespace
from django_tasks_temporal.schedule_specs import (
    ACTION_MEMO,
    PAUSED_NOTE,
    BuiltSchedule,
    InvalidSchedule,
    build,
    id_prefix,
    owned,
)
from django_tasks_temporal.search_attributes import SCHEDULE_HASH

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend

Outcome = Literal["created", "updated", "unchanged", "deleted", "kept", "blocked", "invalid"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged", "deleted", "kept",
                                 "blocked", "invalid")
# Writes in flight at once (a first sync of many schedules creates them all).
CONCURRENCY = 16


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    name: str
    schedule_id: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    backend: str
    results: list[SyncResult]
    dry_run: bool

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results)

    @property
    def ok(self) -> bool:
        """False when a declaration is blocked or invalid (the command exits 1)."""
        return not (self.counts["blocked"] or self.counts["invalid"])

    def summary(self) -> str:
        counts = self.counts
        listed = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if o != "kept" or counts[o])
        return f"TASKS[{self.backend!r}] schedules{' (dry run)' if self.dry_run else ''}: {listed}"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def list_prefix(
    client: Client, backend: TemporalTaskBackend
) -> list[ScheduleListDescription]:
    """Every schedule in the backend's id prefix, owned or not (one list call per 1,000)."""
    query = f"ScheduleId STARTS_WITH {_quote(id_prefix(backend.config))}"
    return [entry async for entry in await client.list_schedules(query)]


class _Sync:
    def __init__(self, client: Client, backend: TemporalTaskBackend, dry_run: bool) -> None:
        self.client = client
        self.backend = backend
        self.dry_run = dry_run
        self.limit = asyncio.Semaphore(CONCURRENCY)

    async def declared(self, built: BuiltSchedule,
                       entry: ScheduleListDescription | None) -> SyncResult:
        try:
            return await self.reconcile(built, entry)
        except RPCError as e:
            if e.status != RPCStatusCode.INVALID_ARGUMENT:
                raise
            return self.result(built, "invalid", f"Temporal refused it: {e.message}")

    async def reconcile(self, built: BuiltSchedule,
                        entry: ScheduleListDescription | None) -> SyncResult:
        if entry is None:
            return await self.create(built)
        if not owned(self.backend, entry.typed_search_attributes):
            return self.blocked(built)
        if entry.typed_search_attributes.get(SCHEDULE_HASH) == built.digest:
            return self.result(built, "unchanged")
        return await self.update(built)

    def result(self, built: BuiltSchedule, outcome: Outcome, detail: str = "") -> SyncResult:
        return SyncResult(name=built.declaration.name, schedule_id=built.id, outcome=outcome,
                          detail=detail)

    def blocked(self, built: BuiltSchedule) -> SyncResult:
        return self.result(built, "blocked", f"the id {built.id!r} belongs to a schedule this "
                           "backend does not own; rename the declaration or remove that schedule")

    async def create(self, built: BuiltSchedule) -> SyncResult:
        if self.dry_run:
            return self.result(built, "created")
        try:
            async with self.limit:
                await _registering(self.client, self.backend, lambda: self.client.create_schedule(
                    built.id, built.schedule, memo=built.memo,
                    search_attributes=built.search_attributes,
                ))
        except ScheduleAlreadyRunningError:  # created since the list (another sync?)
            description = await self.client.get_schedule_handle(built.id).describe()
            if not owned(self.backend, description.typed_search_attributes):
                return self.blocked(built)
            if description.typed_search_attributes.get(SCHEDULE_HASH) == built.digest:
                return self.result(built, "unchanged")
            return await self.update(built)
        return self.result(built, "created")

    async def update(self, built: BuiltSchedule) -> SyncResult:
        if self.dry_run:
            return self.result(built, "updated")
        outcome: list[Outcome] = []

        async def updater(update: ScheduleUpdateInput) -> ScheduleUpdate | None:
            description = update.description
            if not owned(self.backend, description.typed_search_attributes):
                outcome.append("blocked")
                return None
            if description.typed_search_attributes.get(SCHEDULE_HASH) == built.digest:
                outcome.append("unchanged")  # another sync did it
                return None
            outcome.append("updated")
            schedule = dataclasses.replace(
                built.schedule, state=self.kept_state(description, built)
            )
            return ScheduleUpdate(schedule=schedule, search_attributes=built.search_attributes)

        try:
            async with self.limit:
                handle = self.client.get_schedule_handle(built.id)
                await _registering(self.client, self.backend, lambda: handle.update(updater))
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            return await self.create(built)  # deleted since the list
        if outcome[-1] == "blocked":
            return self.blocked(built)
        return self.result(built, outcome[-1])

    def kept_state(self, description: ScheduleDescription, built: BuiltSchedule) -> ScheduleState:
        """The schedule's current pause and note, unless the declared `paused` changed."""
        current = description.schedule.state
        declared = built.declaration.paused
        if self.previously_declared_paused(description) in (None, declared):
            return ScheduleState(note=current.note, paused=current.paused,
                                 limited_actions=current.limited_actions,
                                 remaining_actions=current.remaining_actions)
        return ScheduleState(paused=declared, note=PAUSED_NOTE if declared else None)

    def previously_declared_paused(self, description: ScheduleDescription) -> bool | None:
        memo = getattr(description.schedule.action, "memo", None) or {}
        payload = memo.get(ACTION_MEMO)
        if payload is None:
            return None
        value = self.client.data_converter.payload_converter.from_payload(payload)
        return value.get("paused") if isinstance(value, dict) else None

    async def delete(self, entry: ScheduleListDescription, name: str, prune: bool) -> SyncResult:
        if not prune:
            return SyncResult(name=name, schedule_id=entry.id, outcome="kept",
                              detail="no longer declared; kept (--no-prune)")
        if not self.dry_run:
            try:
                async with self.limit:
                    await self.client.get_schedule_handle(entry.id).delete()
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:  # deleted in between: done too
                    raise
        return SyncResult(name=name, schedule_id=entry.id, outcome="deleted",
                          detail="no longer declared")


async def _registering[T](client: Client, backend: TemporalTaskBackend,
                          write: Callable[[], Awaitable[T]]) -> T:
    """Run `write`; on a namespace that lacks our search attributes, register them and retry."""
    try:
        return await write()
    except RPCError as e:
        if not namespace.missing_search_attributes(e):
            raise
    await namespace.ensure_search_attributes(client, backend.config.namespace)
    await namespace.settle(client, backend.config.namespace)
    return await write()


async def sync_schedules(client: Client, backend: TemporalTaskBackend, *,
                         dry_run: bool = False, prune: bool = True) -> SyncReport:
    """Create, update and delete this backend's schedules to match its declarations."""
    config = backend._usable_config()
    sync = _Sync(client, backend, dry_run)
    built: list[BuiltSchedule] = []
    results: list[SyncResult] = []
    for declaration in config.schedules:
        try:
            built.append(build(backend, declaration))
        except InvalidSchedule as e:
            results.append(SyncResult(name=declaration.name, outcome="invalid", detail=str(e),
                                      schedule_id=""))
    listed = {entry.id: entry for entry in await list_prefix(client, backend)}
    prefix = id_prefix(config)
    declared_ids = {f"{prefix}{d.name}" for d in config.schedules}
    writes = [sync.declared(b, listed.get(b.id)) for b in built]
    writes += [
        sync.delete(entry, entry.id.removeprefix(prefix), prune)
        for entry in listed.values()
        if entry.id not in declared_ids and owned(backend, entry.typed_search_attributes)
    ]
    results += await asyncio.gather(*writes)
    return SyncReport(backend=backend.alias, results=results, dry_run=dry_run)
