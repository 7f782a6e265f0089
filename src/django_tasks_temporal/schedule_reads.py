"""A backend's schedules as plain data: declared, on the server, or both (for the API and admin).

Each declared schedule and each owned one that is no longer declared (an orphan) is
described by id, so what a page shows right after a pause or a trigger is current (the
list alone is eventually consistent). A declaration whose id belongs to a schedule this
backend does not own is "blocked" and shows nothing of that schedule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleDescription

from django_tasks_temporal.schedule_declarations import ScheduleDeclaration
from django_tasks_temporal.schedule_specs import OVERLAP, InvalidSchedule, build, owned
from django_tasks_temporal.search_attributes import SCHEDULE_HASH, TASK_PATH

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend

# synced: on the server as declared; changed: declared differently (a sync updates it);
# missing: declared, not created yet; orphan: owned, no longer declared (a sync deletes
# it); blocked: its id belongs to a schedule this backend does not own; invalid: the
# declaration cannot be built (see `problem`).
SyncState = Literal["synced", "changed", "missing", "orphan", "blocked", "invalid"]
NEXT_RUNS = 5
_OVERLAP_NAMES = {policy: name for name, policy in OVERLAP.items()}


@dataclass(frozen=True, kw_only=True)
class ScheduledRun:
    """One run a schedule started: a task whose id is the workflow id."""

    task_id: str
    scheduled_at: datetime  # its nominal time (with jitter)
    started_at: datetime


@dataclass(frozen=True, kw_only=True)
class ScheduleSummary:
    name: str
    schedule_id: str
    sync_state: SyncState
    declaration: ScheduleDeclaration | None  # None for an orphan
    task_path: str
    when: str  # "cron '30 2 * * *' (Europe/Warsaw)", "every 60s", "calendar (UTC)"
    cron: str | None  # as declared (an orphan's cron is not known: Temporal keeps calendars)
    every: float | None  # seconds
    time_zone: str
    overlap: str
    catchup_window: float | None
    jitter: float
    problem: str = ""  # why it is blocked or invalid
    # From the server (empty, zero or None when the schedule does not exist there).
    exists: bool = False
    paused: bool = False
    note: str = ""
    next_run_times: list[datetime] = field(default_factory=list)
    recent_runs: list[ScheduledRun] = field(default_factory=list)  # newest first
    running: list[str] = field(default_factory=list)  # ids of runs still open
    runs: int = 0  # runs started, triggers and backfills included
    skipped_overlap: int = 0
    missed_catchup: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


def declared_summary(backend: TemporalTaskBackend, declaration: ScheduleDeclaration,
                     schedule_id: str, description: ScheduleDescription | None) -> ScheduleSummary:
    state: SyncState = "missing"
    problem = ""
    try:
        digest = build(backend, declaration).digest
    except InvalidSchedule as e:
        state, problem, digest = "invalid", str(e), ""
    if description is not None and not owned(backend, description.typed_search_attributes):
        problem = f"The id {schedule_id!r} belongs to a schedule this backend does not own."
        state, description = "blocked", None
    elif description is not None and state != "invalid":
        synced = description.typed_search_attributes.get(SCHEDULE_HASH) == digest
        state = "synced" if synced else "changed"
    summary = ScheduleSummary(
        name=declaration.name,
        schedule_id=schedule_id,
        sync_state=state,
        declaration=declaration,
        task_path=declaration.task,
        when=declaration.when(),
        cron=declaration.cron,
        every=declaration.every,
        time_zone=declaration.time_zone,
        overlap=declaration.overlap,
        catchup_window=declaration.catchup_window,
        jitter=declaration.jitter,
        problem=problem,
    )
    return _with_server_state(summary, description)


def orphan_summary(name: str, description: ScheduleDescription) -> ScheduleSummary:
    schedule = description.schedule
    spec, policy = schedule.spec, schedule.policy
    time_zone = spec.time_zone_name or "UTC"
    every = (spec.intervals[0].every.total_seconds()
             if len(spec.intervals) == 1 and not spec.calendars else None)
    when = f"every {every:g}s" if every else f"calendar ({time_zone})"
    summary = ScheduleSummary(
        name=name,
        schedule_id=description.id,
        sync_state="orphan",
        declaration=None,
        task_path=description.typed_search_attributes.get(TASK_PATH) or "",
        when=when,
        cron=None,
        every=every,
        time_zone=time_zone,
        overlap=_OVERLAP_NAMES.get(policy.overlap, "skip"),
        catchup_window=policy.catchup_window.total_seconds() if policy.catchup_window else None,
        jitter=spec.jitter.total_seconds() if spec.jitter else 0.0,
    )
    return _with_server_state(summary, description)


def _with_server_state(summary: ScheduleSummary,
                       description: ScheduleDescription | None) -> ScheduleSummary:
    if description is None:
        return summary
    info, state = description.info, description.schedule.state
    recent = [
        ScheduledRun(task_id=a.action.workflow_id, scheduled_at=a.scheduled_at,
                     started_at=a.started_at)
        for a in reversed(info.recent_actions)
        if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
    ]
    running = [a.workflow_id for a in info.running_actions
               if isinstance(a, ScheduleActionExecutionStartWorkflow)]
    return dataclasses.replace(
        summary,
        exists=True,
        paused=state.paused,
        note=state.note or "",
        next_run_times=list(info.next_action_times[:NEXT_RUNS]),
        recent_runs=recent,
        running=running,
        runs=info.num_actions,
        skipped_overlap=info.num_actions_skipped_overlap,
        missed_catchup=info.num_actions_missed_catchup_window,
        created_at=info.created_at,
        updated_at=info.last_updated_at,
    )

