"""Burst mode: serve until the queues are drained or a limit is reached, then stop.

For a worker that a scheduler starts (a Cloud Run Job, a cron job): `run_temporal_worker
--burst [--idle S] [--max-tasks N] [--max-runtime S]`. "Drained" must be true, not a
guess, because the worker exits on it:

- no attempt has been in flight on this worker for `idle` seconds, and
- every served task queue's backlog (workflow and activity tasks) read 0 twice in a row,
  in readings taken at least `STATS_CACHE_SECONDS` after the last attempt ended. The
  server caches task-queue statistics for about that long, so a reading taken earlier
  may describe the queue before the last tasks arrived; one taken later cannot.

Visibility counts (`count_workflows`) are not used: they include tasks waiting for their
`run_after`, for a retry's backoff or for a trigger, which are not this run's work (the
next run takes them when they are due). A task enqueued while the worker runs is polled
like any other; one that arrives in the last instant is handed back at shutdown and runs
on the next worker, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from django_tasks_temporal.attempts import AttemptRegistry

logger = logging.getLogger("django_tasks_temporal.worker")

STATS_CACHE_SECONDS = 5.0  # how long the server reuses a task queue's statistics
FRESH_AFTER = STATS_CACHE_SECONDS + 0.2  # a reading this long after the last attempt
READ_INTERVAL = 0.5  # seconds between two looks at the attempts and the backlog
TYPES = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


@dataclass(frozen=True, kw_only=True)
class BurstConfig:
    idle: float = 5.0  # seconds with no attempt in flight
    max_tasks: int | None = None  # stop once this many attempts started here
    max_runtime: float | None = None  # seconds, from the start of polling


async def backlog(client: Client, task_queues: Sequence[str]) -> int:
    """The approximate number of tasks waiting in these task queues (cached by the server)."""
    total = 0
    for name in task_queues:
        for kind in TYPES:
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            total += response.stats.approximate_backlog_count
    return total


def in_flight(registry: AttemptRegistry) -> bool:
    """Whether an attempt (or a function cut short, still holding its slot) runs here."""
    return any(
        attempt.finished is None
        or not attempt.finished.done()
        or (attempt.function is not None and not attempt.function.done())
        for attempt in registry.running.values()
    )


async def until_done(
    client: Client, task_queues: Sequence[str], registry: AttemptRegistry, config: BurstConfig
) -> str:
    """Return why the burst is over (for the log) once it is."""
    began = time.monotonic()
    zero_readings = 0
    while True:
        now = time.monotonic()
        if config.max_runtime is not None and now - began >= config.max_runtime:
            return f"ran for --max-runtime {config.max_runtime:g}s"
        if config.max_tasks is not None and registry.started >= config.max_tasks:
            return f"took --max-tasks {config.max_tasks} attempts"
        quiet_since = registry.last_change
        pause = READ_INTERVAL
        if in_flight(registry):
            zero_readings = 0
        elif now - quiet_since < FRESH_AFTER:
            pause = min(pause, quiet_since + FRESH_AFTER - now)
        else:
            try:
                waiting = await backlog(client, task_queues)
            except RPCError as e:  # unknown is not empty: look again (--max-runtime bounds it)
                logger.warning("Burst: cannot read the backlog (%s); retrying", e.message)
                waiting = -1
            if registry.last_change != quiet_since:
                zero_readings = 0  # an attempt came meanwhile: look again later
            else:
                zero_readings = zero_readings + 1 if waiting == 0 else 0
            if zero_readings >= 2 and time.monotonic() - quiet_since >= config.idle:
                return (
                    f"queues drained (no attempt for {time.monotonic() - quiet_since:.1f}s, "
                    "backlog 0 twice)"
                )
        await asyncio.sleep(pause)
