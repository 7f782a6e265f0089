"""A declared schedule -> the Temporal Schedule that runs it, its id, and its hash.

The schedule's action starts exactly the workflow `enqueue()` starts: the input comes
from `TemporalTaskBackend._run_input` and the options from `starting.start_options`, so
a scheduled run is a task like any other (its queue, priority and retry settings apply,
`get_result` reads it). Its `enqueued_at` is left empty: the workflow uses its own start
time. What the schedule does is hashed; the hash travels as a search attribute on the
schedule, so a sync compares it from one list call (cron strings do not round-trip
through the server, so the schedule itself cannot be compared field by field).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.tasks import Task
from django.tasks.exceptions import InvalidTask
from django.utils.module_loading import import_string
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from django_tasks_temporal.options import BackendOptions, Problem
from django_tasks_temporal.payloads import WORKFLOW_NAME, RunTaskInput
from django_tasks_temporal.schedule_declarations import ScheduleDeclaration
from django_tasks_temporal.search_attributes import SCHEDULE_HASH, TASK_BACKEND, TASK_PATH
from django_tasks_temporal.starting import start_options

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend

# The schedule's own memo (set when it is created): who owns it, for people reading it
# in the Web UI. Ownership itself is the TASK_BACKEND search attribute and the id prefix.
OWNER_MEMO = "django_tasks_temporal"
# The action's memo (so also each run's): the schedule's name and its declared `paused`,
# so an update can tell a changed declaration from an operator's pause.
ACTION_MEMO = "django_tasks_temporal.schedule"
PAUSED_NOTE = "Paused in settings (OPTIONS['schedules'])."
# Bump when the way schedules are built changes, so the next sync updates every one.
BUILD_VERSION = 1
OVERLAP = {name.lower(): policy for name, policy in ScheduleOverlapPolicy.__members__.items()}


class InvalidSchedule(ValueError):
    """A declared schedule cannot be built (its task, or its arguments for that task)."""


def id_prefix(config: BackendOptions) -> str:
    """Every schedule id of this backend starts with this (its task queue and a colon)."""
    return f"{config.task_queue}:"


def schedule_id(config: BackendOptions, name: str) -> str:
    return f"{id_prefix(config)}{name}"


def owned(backend: TemporalTaskBackend, attributes: TypedSearchAttributes) -> bool:
    """Whether a schedule in this backend's id prefix is this backend's own."""
    return attributes.get(TASK_BACKEND) == backend.alias


def scheduled_task(declaration: ScheduleDeclaration) -> Task[..., Any]:
    try:
        task = import_string(declaration.task)
    except ImportError as e:
        raise InvalidSchedule(f"Task path {declaration.task!r} does not import.") from e
    if not isinstance(task, Task):
        raise InvalidSchedule(f"{declaration.task!r} is not a Task (decorate it with @task).")
    if task.run_after is not None:
        raise InvalidSchedule(f"Task {declaration.task!r} has a run_after; a scheduled task "
                              "runs at its schedule's times.")
    return task


def _check_signature(task: Task[..., Any], declaration: ScheduleDeclaration) -> None:
    signature = inspect.signature(task.func)
    if task.takes_context:
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    try:
        signature.bind(*declaration.args, **declaration.kwargs)
    except TypeError as e:
        raise InvalidSchedule(f"The arguments do not fit {declaration.task!r}: {e}.") from e


def run_input(backend: TemporalTaskBackend, declaration: ScheduleDeclaration) -> RunTaskInput:
    """What each run of the schedule gets: `enqueue()`'s input, with no enqueue time."""
    task = scheduled_task(declaration)
    if task.queue_name in backend.config.trigger_queues:
        raise InvalidSchedule(f"Task {declaration.task!r} is on the trigger-gated queue "
                              f"{task.queue_name!r}: its runs would wait for a trigger.")
    _check_signature(task, declaration)
    try:
        built = backend._run_input(task, declaration.args, declaration.kwargs, backend.config)
    except (InvalidTask, TypeError, ValueError) as e:
        raise InvalidSchedule(f"Task {declaration.task!r} cannot run: {e}") from e
    return dataclasses.replace(built, enqueued_at="")


def task_problems(backend: TemporalTaskBackend) -> list[Problem]:
    """The system checks' view: each declared schedule whose task cannot run as declared."""
    problems = []
    for declaration in backend.config.schedules:
        try:
            run_input(backend, declaration)
        except InvalidSchedule as e:
            problems.append(Problem(
                id="E019",
                message=f"OPTIONS['schedules'][{declaration.name!r}]: {e}",
                hint="Name a module-level @task by its dotted path, on a queue that is not "
                "trigger-gated, with arguments that fit its signature.",
            ))
    return problems


@dataclass(frozen=True, kw_only=True)
class BuiltSchedule:
    """A declaration made ready for Temporal: what to create or update, and its hash."""

    declaration: ScheduleDeclaration
    id: str
    schedule: Schedule
    digest: str
    search_attributes: TypedSearchAttributes
    memo: dict[str, Any]


def _spec(declaration: ScheduleDeclaration) -> ScheduleSpec:
    every = declaration.every
    return ScheduleSpec(
        cron_expressions=[declaration.cron] if declaration.cron else [],
        intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every))] if every else [],
        time_zone_name=declaration.time_zone,
        start_at=declaration.start_at,
        end_at=declaration.end_at,
        jitter=timedelta(seconds=declaration.jitter) if declaration.jitter else None,
    )


def _digest(declaration: ScheduleDeclaration, task_input: RunTaskInput,
            options: dict[str, Any]) -> str:
    described = {
        "version": BUILD_VERSION,
        "declaration": {k: v for k, v in dataclasses.asdict(declaration).items()
                        if k not in ("args", "kwargs")},  # in the input already
        "input": dataclasses.asdict(task_input),
        "options": options,
    }
    text = json.dumps(described, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build(backend: TemporalTaskBackend, declaration: ScheduleDeclaration) -> BuiltSchedule:
    """The Temporal Schedule for a declaration; raises `InvalidSchedule`."""
    config = backend.config
    task_input = run_input(backend, declaration)
    id = schedule_id(config, declaration.name)
    options = start_options(config, task_input)
    # The same start as enqueue()'s, under the names a schedule action uses.
    options["typed_search_attributes"] = options.pop("search_attributes")
    action = ScheduleActionStartWorkflow(
        WORKFLOW_NAME,
        task_input,
        id=id,  # Temporal appends each run's nominal time: "<id>-2026-01-01T02:30:00Z"
        memo={ACTION_MEMO: {"name": declaration.name, "paused": declaration.paused}},
        **options,
    )
    digest = _digest(declaration, task_input, {
        key: [(p.key.name, p.value) for p in value] if key == "typed_search_attributes"
        else value for key, value in options.items()
    })
    schedule = Schedule(
        action=action,
        spec=_spec(declaration),
        policy=SchedulePolicy(
            overlap=OVERLAP[declaration.overlap],
            catchup_window=(timedelta(seconds=declaration.catchup_window)
                            if declaration.catchup_window is not None else None),
        ),
        state=ScheduleState(paused=declaration.paused,
                            note=PAUSED_NOTE if declaration.paused else None),
    )
    return BuiltSchedule(
        declaration=declaration,
        id=id,
        schedule=schedule,
        digest=digest,
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(TASK_BACKEND, backend.alias),
            SearchAttributePair(TASK_PATH, declaration.task),
            SearchAttributePair(SCHEDULE_HASH, digest),
        ]),
        memo={OWNER_MEMO: {"backend": backend.alias, "name": declaration.name}},
    )
