"""Starting a task once per delivery of an event (a webhook's, Pub/Sub's, Eventarc's).

Senders redeliver: after an error, after their deadline, sometimes for no reason. The
task's id is derived from what names the delivery (a Pub/Sub message id and its
subscription, a CloudEvent's source and id, an Idempotency-Key), so every redelivery
asks Temporal to start the same workflow id, and Temporal starts it at most once
(`starting.start_task_once`): a second delivery finds the first one's task, however
the two interleave. The start is bounded in time, so the sender hears back before its
own deadline and retries a start that timed out, which again finds the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.tasks.signals import task_enqueued
from temporalio.client import Client

from django_tasks_temporal import client as temporal
from django_tasks_temporal.results import (
    TaskSummary,
    parse_time,
    read_task_state,
    summarize_state,
    wait_closed,
)
from django_tasks_temporal.starting import start_task_once

if TYPE_CHECKING:
    from django.tasks import Task

    from django_tasks_temporal.backend import TemporalTaskBackend


@dataclass(frozen=True, kw_only=True)
class Delivered:
    """What a delivery did: the task's id, whether an earlier delivery had started it."""

    id: str
    duplicate: bool
    task: TaskSummary | None = None  # its state after `wait` seconds (None: no wait)


def delivery_task_id(
    backend: TemporalTaskBackend, name: str, delivery: Sequence[str] | None
) -> str:
    """The task id for one delivery to the declared `name`: `<name>-<40 hex digits>`.

    The same delivery to the same name and backend (alias and task queue, so two projects
    sharing a namespace never collide) always gets the same id; an unnamed delivery
    (`None`) gets a new one each time.
    """
    if delivery is None:
        return f"{name}-{uuid.uuid4().hex}"
    key = json.dumps([backend.alias, backend.config.task_queue, name, *delivery])
    return f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def start_once(
    backend: TemporalTaskBackend,
    task: Task[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    task_id: str,
    timeout: float,
    wait: float = 0,
) -> Delivered:
    """Start `task` under `task_id` unless a task has it already, within `timeout` seconds.

    Raises what `enqueue` raises for bad arguments (before anything exists), and
    `TemporalUnavailable` when Temporal did not answer in time: the start may or may
    not have reached the server, and a redelivery finds out. With `wait`, waits up to
    that many seconds for the task to finish (not at all when its run_after is later)
    and reports its state.
    """
    config = backend._usable_config()
    run_input = backend._run_input(task, args, kwargs, config)

    async def start(client: Client) -> bool:
        return await start_task_once(client, config, run_input, task_id)

    created = temporal.call(config, start, timeout=timeout)
    if created:
        result = backend._enqueued_result(task, task_id, run_input)
        task_enqueued.send(type(backend), task_result=result)
    if not wait:
        return Delivered(id=task_id, duplicate=not created)
    run_after = parse_time(run_input.run_after)
    if run_after is not None and run_after > datetime.now(UTC) + timedelta(seconds=wait):
        wait = 0  # it cannot even start within the wait: its state now is the answer

    async def outcome(client: Client) -> TaskSummary:
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wait_closed(client, task_id), wait)
        return summarize_state(await read_task_state(client, task_id, backend))

    summary = temporal.call(config, outcome, timeout=wait + timeout)
    return Delivered(id=task_id, duplicate=not created, task=summary)
