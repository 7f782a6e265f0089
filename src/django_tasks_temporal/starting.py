"""Starting a task's workflow: one set of start options, and a start that is safe to retry.

Used by `enqueue`, by re-running a FAILED task under its id, and by `start_task_once`
(a task whose id names one delivery of an event). A start that fails on the way (a
timeout after the server created the workflow, a dropped connection) is retried with the
same id: the server keeps the one it has (id conflict policy USE_EXISTING, and a closed
run is never started twice), so `enqueue` never creates a second task and never reports
failure for a task it created. A namespace that lacks this backend's search attributes
gets them on first need.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from django_tasks_temporal import namespace, tracing
from django_tasks_temporal.client import UNAVAILABLE, unavailable
from django_tasks_temporal.exceptions import ArgumentsTooLarge
from django_tasks_temporal.options import BackendOptions
from django_tasks_temporal.payloads import RECORD_RESERVE, WORKFLOW_NAME, RunTaskInput
from django_tasks_temporal.search_attributes import (
    TASK_BACKEND,
    TASK_PATH,
    TASK_PRIORITY,
    TASK_STATE,
    WAITING,
)


def search_attributes(run_input: RunTaskInput) -> TypedSearchAttributes:
    """What visibility queries (the admin, `run/`, `purge/`) filter tasks by."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(TASK_PATH, run_input.task_path),
        SearchAttributePair(TASK_PRIORITY, run_input.priority),
        SearchAttributePair(TASK_BACKEND, run_input.backend),
    ]
    if run_input.wait_for_release:
        pairs.append(SearchAttributePair(TASK_STATE, WAITING))
    return TypedSearchAttributes(pairs)


def start_options(config: BackendOptions, run_input: RunTaskInput) -> dict[str, Any]:
    """What every start of a task's workflow passes besides its id and input."""
    return {
        "task_queue": config.temporal_task_queue(run_input.queue_name),
        "priority": Priority(priority_key=config.priority_key(run_input.priority)),
        "search_attributes": search_attributes(run_input),
    }


def transient(error: RPCError) -> bool:
    """A failure worth one more try with the same id: no server, or no answer in time
    (the client reports its own deadline as CANCELLED "Timeout expired")."""
    return error.status in UNAVAILABLE or (
        error.status == RPCStatusCode.CANCELLED and "timeout" in error.message.lower()
    )


def check_arguments_size(args: list[Any], kwargs: dict[str, Any], config: BackendOptions) -> None:
    """Refuse arguments Temporal would refuse, before anything is created."""
    size = len(json.dumps([args, kwargs], separators=(",", ":")).encode())
    if size > config.max_value_size:
        raise ArgumentsTooLarge(
            f"The task's arguments are {size:,} bytes as JSON; the limit is "
            f"{config.max_value_size:,} bytes (OPTIONS['max_payload_size'] "
            f"{config.max_payload_size:,} minus {RECORD_RESERVE:,} for the task's record)."
        )


@tracing.traced_start
async def start_task(
    client: Client,
    config: BackendOptions,
    run_input: RunTaskInput,
    workflow_id: str,
    *,
    rerun: bool = False,
) -> None:
    """Start the workflow; a try that hangs or finds no server is tried again with the
    same id, for up to twice `connect_timeout` in all.

    `rerun` starts a new run under the id of a FAILED task; a duplicate request for a
    rerun that already started raises `WorkflowAlreadyStartedError`.
    """
    try:
        await _start(client, config, run_input, workflow_id, rerun=rerun, only_new=rerun)
    except WorkflowAlreadyStartedError:
        if rerun:
            raise
        # An earlier try of this start created it, and it has already finished.


async def start_task_once(
    client: Client, config: BackendOptions, run_input: RunTaskInput, workflow_id: str
) -> bool:
    """Start the workflow unless one with this id exists, running or closed.

    True when this call started it; False when the id was taken (conflict policy FAIL,
    reuse policy REJECT_DUPLICATE), so a second delivery of one event starts nothing. A
    start whose first try reached the server but whose answer was lost reports False:
    the task exists once either way.
    """
    try:
        await _start(client, config, run_input, workflow_id, rerun=False, only_new=True)
    except WorkflowAlreadyStartedError:
        return False
    return True


async def _start(
    client: Client,
    config: BackendOptions,
    run_input: RunTaskInput,
    workflow_id: str,
    *,
    rerun: bool,
    only_new: bool,
) -> None:
    started = time.monotonic()
    deadline = started + 2 * config.connect_timeout
    registered = False
    while True:
        remaining = deadline - time.monotonic()
        try:
            await client.start_workflow(
                WORKFLOW_NAME,
                run_input,
                id=workflow_id,
                **start_options(config, run_input),
                id_reuse_policy=(
                    WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
                    if rerun
                    else WorkflowIDReusePolicy.REJECT_DUPLICATE
                ),
                id_conflict_policy=(
                    WorkflowIDConflictPolicy.FAIL
                    if only_new
                    else WorkflowIDConflictPolicy.USE_EXISTING
                ),
                rpc_timeout=timedelta(seconds=max(1.0, min(remaining, config.connect_timeout))),
            )
            return
        except RPCError as e:
            settling = time.monotonic() < deadline + namespace.SETTLE_SECONDS
            if namespace.missing_search_attributes(e) and settling:
                if not registered:
                    await namespace.ensure_search_attributes(client, config.namespace)
                    registered = True
                await asyncio.sleep(0.25)
                continue
            if not transient(e):
                raise
            if time.monotonic() >= deadline:
                raise unavailable(
                    config, e, waited=time.monotonic() - started, task_id=workflow_id
                ) from e
            await asyncio.sleep(0.1)
