"""Build and run a worker for one backend's task queues, with graceful shutdown.

`python -m django_tasks_temporal.worker` and `manage.py run_temporal_worker` both end up
in `run_worker`. SIGTERM/SIGINT stop polling and give running tasks `shutdown_timeout`
seconds; a second signal exits at once. Whatever was cut short is run again elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import gc
import hashlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import temporalio
from django.core.exceptions import ImproperlyConfigured
from temporalio.worker import FixedSizeSlotSupplier, Worker, WorkerTuner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from django_tasks_temporal import burst, namespace, payloads, search_attributes, workflows
from django_tasks_temporal import client as temporal
from django_tasks_temporal.activities import TaskActivities
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.burst import BurstConfig
from django_tasks_temporal.cli import (
    BackendNotFound,
    add_arguments,
    config_flags,
    configure_logging,
    exit_now,
    select_backend,
)
from django_tasks_temporal.exceptions import InvalidBackendOptions, TemporalUnavailable
from django_tasks_temporal.health import HealthProbe
from django_tasks_temporal.metrics import TaskMetrics
from django_tasks_temporal.schedules import sync_at_worker_start
from django_tasks_temporal.slots import AttemptSlotSupplier, BodySlots
from django_tasks_temporal.workflows import RunTaskWorkflow

logger = logging.getLogger("django_tasks_temporal.worker")

# The sandbox stays on, and re-imports the workflow module for every workflow run. The
# two Django-free data modules it imports are passed through instead (Temporal's advice
# for data classes): frozen dataclasses and constants, no I/O and no mutable state, so one
# shared copy is as deterministic as a fresh one, and each run costs less to build and
# leaves less garbage behind.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        payloads.__name__, search_attributes.__name__
    )
)

# Temporal's own defaults for concurrent activities and workflow tasks.
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 100
DEFAULT_MAX_CONCURRENT_WORKFLOW_TASKS = 100
# Local activities only look up who ran a lost attempt; questions about attempts
# (`recover_attempt`) only wait for them.
LOOKUP_SLOTS = 4
RECOVERY_SLOTS = 100
# How long a stopping worker waits for cut-short attempts to be handed off.
HAND_OFF_SECONDS = 10.0
# How long a stopping worker keeps serving the workflow tasks that record the outcomes
# of its last attempts.
OUTCOME_SETTLE_SECONDS = 1.0


def default_identity() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    """What one worker process serves and how much it runs at once."""

    queues: tuple[str, ...]  # Django queue names
    max_concurrent_activities: int | None = None
    max_concurrent_workflow_tasks: int | None = None
    identity: str = ""
    shutdown_timeout: float = 30.0
    sync_schedules: bool = True  # sync OPTIONS["schedules"] before polling
    metrics_bind: str | None = None  # "host:port" of Prometheus /metrics
    health_bind: str | None = None  # "host:port" of the health probe
    burst: BurstConfig | None = None  # stop once the queues are drained


def worker_config(
    backend: TemporalTaskBackend,
    *,
    queues: Sequence[str] = (),
    max_concurrent_activities: int | None = None,
    max_concurrent_workflow_tasks: int | None = None,
    identity: str | None = None,
    shutdown_timeout: float | None = None,
    sync_schedules: bool | None = None,
    metrics_bind: str | None = None,
    health_bind: str | None = None,
    burst: BurstConfig | None = None,
) -> WorkerConfig:
    """Command-line choices layered over the backend's OPTIONS."""
    options = backend.config
    if not queues:
        # QUEUES: [] allows any name; serve "default" and the trigger-gated queues.
        queues = sorted(backend.queues) or ["default", *sorted(options.trigger_queues)]
    return WorkerConfig(
        queues=tuple(dict.fromkeys(queues)),
        max_concurrent_activities=max_concurrent_activities or options.max_concurrent_activities,
        max_concurrent_workflow_tasks=(
            max_concurrent_workflow_tasks or options.max_concurrent_workflow_tasks
        ),
        identity=identity or default_identity(),
        shutdown_timeout=(
            options.shutdown_timeout if shutdown_timeout is None else shutdown_timeout
        ),
        sync_schedules=(
            options.sync_schedules_on_start if sync_schedules is None else sync_schedules
        ),
        metrics_bind=metrics_bind or options.metrics_bind,
        health_bind=health_bind,
        burst=burst,
    )


class TemporalTaskWorker:
    """Runs one Temporal `Worker` per task queue, sharing one client and thread pool."""

    def __init__(
        self,
        backend: TemporalTaskBackend,
        config: WorkerConfig,
        *,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.on_ready = on_ready  # called once every queue is being polled
        self._stop = asyncio.Event()
        self._stop_requested_at = 0.0
        self.ready = threading.Event()  # set once every queue is being polled
        self.health: HealthProbe | None = None
        self.stopped_because = "asked to stop"  # or why a burst ended

    def request_stop(self) -> None:
        self._stop_requested_at = self._stop_requested_at or time.monotonic()
        self._stop.set()

    def _workers(
        self, activities: TaskActivities, workflow_threads: ThreadPoolExecutor
    ) -> list[Worker]:
        """One Temporal `Worker` per served queue, then the one for this worker's own
        queue, where it answers for attempts it started (see `activities.py`)."""
        options = self.backend.config
        # Heartbeats go out every heartbeat_timeout / 3, and within a second of new
        # progress (activities.py): let the SDK send them at that pace.
        throttle = timedelta(seconds=min(1.0, options.heartbeat_timeout / 3))
        common: dict[str, Any] = {
            "identity": self.config.identity,
            # The grace period is spent in `_serve` before the Workers are shut down;
            # what still runs then is handed back at once.
            "graceful_shutdown_timeout": timedelta(0),
            "max_heartbeat_throttle_interval": throttle,
            "default_heartbeat_throttle_interval": throttle,
        }
        workers = [
            Worker(
                activities.client,
                task_queue=options.temporal_task_queue(queue),
                build_id=workflow_build_id(),
                workflows=[RunTaskWorkflow],
                workflow_runner=WORKFLOW_RUNNER,
                workflow_task_executor=workflow_threads,
                activities=[activities.run_task_attempt, activities.find_attempt_holder],
                tuner=WorkerTuner.create_composite(
                    workflow_supplier=FixedSizeSlotSupplier(
                        self.config.max_concurrent_workflow_tasks
                        or DEFAULT_MAX_CONCURRENT_WORKFLOW_TASKS
                    ),
                    activity_supplier=AttemptSlotSupplier(activities.bodies),
                    local_activity_supplier=FixedSizeSlotSupplier(LOOKUP_SLOTS),
                    nexus_supplier=FixedSizeSlotSupplier(1),
                ),
                # When a worker dies, the next workflow task first goes to its sticky
                # queue; keep that detour short next to the heartbeat timeout.
                sticky_queue_schedule_to_start_timeout=timedelta(
                    seconds=min(1.0, options.heartbeat_timeout / 2)
                ),
                **common,
            )
            for queue in self.config.queues
        ]
        workers.append(
            Worker(
                activities.client,
                task_queue=payloads.recovery_task_queue(self.config.identity),
                activities=[activities.recover_attempt],
                max_concurrent_activities=RECOVERY_SLOTS,
                **common,
            )
        )
        return workers

    async def run(self) -> None:
        options = self.backend._usable_config()
        cache_bytecode()
        limit_malloc_arenas()
        # Configuration errors (a port in use) before anything connects.
        metrics_bind = self.config.metrics_bind
        metered = temporal.worker_runtime(metrics_bind) if metrics_bind else None
        if self.config.health_bind:
            self.health = HealthProbe(self.config.health_bind)
        client = await temporal.connect(
            options, retry_seconds=temporal.WORKER_RETRY_SECONDS, own_runtime=metered
        )
        try:
            await namespace.ensure_search_attributes(client, options.namespace)
        except InvalidBackendOptions as e:
            logger.error("%s", e)  # tasks still run; enqueueing needs the attributes
        if self.config.sync_schedules:
            await sync_at_worker_start(client, self.backend)
        slots = self.config.max_concurrent_activities or DEFAULT_MAX_CONCURRENT_ACTIVITIES
        # One thread per body slot: a function cut short keeps its thread and its slot
        # until it returns (slots.py), so no more threads, or database connections,
        # are ever needed. Not a `with` block: threads still running when the worker
        # stops are left to die with the process (their attempts run again elsewhere).
        executor = ThreadPoolExecutor(slots, thread_name_prefix="django-task")
        # Workflow activations are short and hold the GIL: a few threads serve them as
        # fast as Temporal's default of up to 500, which a backlog would all start.
        workflow_threads = ThreadPoolExecutor(
            max(4, 2 * (os.cpu_count() or 1)), thread_name_prefix="temporal-workflow"
        )
        try:
            activities = TaskActivities(
                worker_id=self.config.identity,
                executor=executor,
                sender=type(self.backend),
                client=client,
                bodies=BodySlots(slots),
                max_value_size=options.max_value_size,
                metrics=TaskMetrics(metered.metric_meter) if metered else None,
                tracing=options.tracing,
            )
            workers = self._workers(activities, workflow_threads)
            await self._serve(workers, activities)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            workflow_threads.shutdown(wait=False, cancel_futures=True)
            if self.health is not None:
                self.health.close()

    async def _drain(self, activities: TaskActivities) -> None:
        """The grace period: take no new attempts, let running ones finish (while the
        workflow tasks that record their outcomes are still served), at most
        `shutdown_timeout` seconds."""
        activities.bodies.close()
        deadline = time.monotonic() + self.config.shutdown_timeout
        while activities.registry.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if activities.registry.finished_since(self._stop_requested_at):
            # The outcome's workflow task comes to this worker (sticky) in moments.
            await asyncio.sleep(OUTCOME_SETTLE_SECONDS)
        if activities.registry.running:
            logger.warning("Grace period over: running attempts will run again elsewhere")

    async def _serve(self, workers: list[Worker], activities: TaskActivities) -> None:
        """Poll until asked to stop; then let running attempts finish within the grace
        period (the SDK hands the rest back, see `activities.py`) and stop."""
        runs = [asyncio.create_task(w.run()) for w in workers]
        if self.on_ready is not None:
            self.on_ready()
        self.ready.set()
        options = self.backend.config
        logger.info(
            "Worker %s serving %s on %s (namespace %s)",
            self.config.identity,
            ", ".join(w.task_queue for w in workers[:-1]),
            options.target_host,
            options.namespace,
        )
        stop = asyncio.create_task(self._stop.wait())
        checks = self._watch_health(activities)
        burst_over = self._watch_burst(workers, activities)
        await asyncio.wait([stop, *runs, *checks, *burst_over], return_when=asyncio.FIRST_COMPLETED)
        self.request_stop()  # the moment it stopped, whatever ended it
        for task in (stop, *burst_over):
            task.cancel()  # a finished task stays as it is
        if self.health is not None:
            self.health.polling = False  # not ready: stopping (but alive while it drains)
        for task in burst_over:
            if task.done() and not task.cancelled() and task.exception() is None:
                self.stopped_because = task.result()
        logger.info(
            "Worker %s stopping (%s): no new tasks; waiting up to %gs for running ones",
            self.config.identity,
            self.stopped_because,
            self.config.shutdown_timeout,
        )
        await self._drain(activities)
        # The queues first; this worker's own queue last, so that it can still answer
        # for attempts it ran while the others stop.
        *queues, own = workers
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(w.shutdown() for w in queues), return_exceptions=True),
                HAND_OFF_SECONDS,
            )
            await asyncio.wait_for(own.shutdown(), HAND_OFF_SECONDS)
        for task in checks:
            task.cancel()
        for run in [*runs, *burst_over]:
            if run.done() and not run.cancelled() and (error := run.exception()) is not None:
                raise error

    def _watch_health(self, activities: TaskActivities) -> list[asyncio.Task[None]]:
        if self.health is None:
            return []
        self.health.polling = True
        return [asyncio.create_task(self.health.watch(activities.client))]

    def _watch_burst(
        self, workers: list[Worker], activities: TaskActivities
    ) -> list[asyncio.Task[str]]:
        """In burst mode, the watch that ends the burst (its result says why)."""
        if self.config.burst is None:
            return []
        queues = [w.task_queue for w in workers[:-1]]
        return [
            asyncio.create_task(
                burst.until_done(
                    activities.client, queues, activities.registry, self.config.burst
                )
            )
        ]


@functools.cache
def workflow_build_id() -> str:
    """The build id this worker reports: a hash of the code that runs in the workflow.

    Without one, temporalio hashes the bytecode of every loaded module (all of Django and
    the project) when it builds a worker, which in a Django process takes a second or more
    and leaves about 5 MiB more RSS for good. Replay depends only on the workflow's own
    modules and temporalio, so they identify the build (the worker uses no versioning).
    """
    digest = hashlib.sha256(f"temporalio {temporalio.__version__}".encode())
    for module in (workflows, payloads, search_attributes):
        if module.__file__:
            with contextlib.suppress(OSError):
                digest.update(Path(module.__file__).read_bytes())
    return f"django-tasks-temporal-{digest.hexdigest()[:16]}"


def settle_process() -> None:
    """Once a worker process polls: ready its memory for a long life (called by `run_worker`,
    not by workers embedded in other processes, such as tests)."""
    freeze_startup_heap()
    release_free_memory()


def freeze_startup_heap() -> None:
    """Keep the start-up heap out of garbage collection, and collect the rest promptly.

    Every workflow run leaves its sandboxed instance behind as cyclic garbage (the
    re-imported workflow module, its classes, the instance's event loop: tens of KiB). It
    lived while its attempt ran, so it reached the oldest generation, which Python collects
    only after ten middle-generation collections, and only once what was promoted there
    exceeds a quarter of everything long-lived: all of Django. Evicted instances piled up
    by the hundred (a worker draining 1,000 tasks ran no full collection at all). Frozen,
    the start-up heap is never traversed again, so a full collection costs milliseconds
    and can run after every other middle-generation collection.
    """
    gc.collect()
    gc.freeze()
    gc.collect()  # from now on only unfrozen objects count as long-lived
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1)


def release_free_memory() -> None:
    """Hand the memory that start-up allocated and freed back to the OS.

    Imports, Django's setup and the worker's construction free many MiB of temporary
    objects; glibc returns only the top of its heap by itself and keeps the rest resident.
    """
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def cache_bytecode() -> None:
    """Keep compiled bytecode even under PYTHONDONTWRITEBYTECODE, in a private directory.

    Temporal's sandbox re-imports the workflow module for every workflow run; without
    .pyc files each run recompiles it from source, which costs more than the run itself.
    The cache goes to a temporary directory, so the source tree stays untouched.
    """
    if sys.dont_write_bytecode:
        sys.pycache_prefix = sys.pycache_prefix or tempfile.mkdtemp(prefix="dtt-pycache-")
        sys.dont_write_bytecode = False


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas, as for any threaded Python server.

    Each of the pool's threads otherwise gets an arena of its own, which keeps freed
    memory: RSS grows with the number of threads that ever ran a task, not with load.
    """
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        m_arena_max = -8  # from malloc.h
        ctypes.CDLL("libc.so.6").mallopt(m_arena_max, arenas)


def run_worker(backend: TemporalTaskBackend, config: WorkerConfig) -> int:
    """Run until stopped by a signal; return the process exit code."""
    worker = TemporalTaskWorker(backend, config, on_ready=settle_process)
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            logger.warning("Second %s: exiting now", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(1)
        logger.info("%s received: shutting down gracefully", signal.Signals(signum).name)
        worker.request_stop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        await worker.run()

    try:
        asyncio.run(main())
    except ImproperlyConfigured as e:  # bad OPTIONS, a port in use: no traceback
        logger.error("Worker not started: %s", e)
        return 2
    except TemporalUnavailable as e:
        logger.error("Worker not started: %s", e)
        return 1
    except Exception:
        logger.exception("Worker failed")
        return 1
    logger.info("Worker %s stopped", config.identity)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    import django

    parser = argparse.ArgumentParser(
        prog="python -m django_tasks_temporal.worker",
        description="Run a Temporal worker for a django.tasks backend.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    django.setup()
    configure_logging(verbosity=1)
    try:
        backend = select_backend(args.backend, fallback=not args.no_fallback)
        flags = config_flags(vars(args))
    except (BackendNotFound, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        exit_now(2)
    exit_now(run_worker(backend, worker_config(backend, **flags)))


if __name__ == "__main__":
    main()
