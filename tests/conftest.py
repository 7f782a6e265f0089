"""One Temporal dev server per test session; a fresh task queue and backend per test."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.tasks import task_backends
from django.test import override_settings

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.devserver import DevServer, die_with_parent, start_dev_server
from django_tasks_temporal.worker import TemporalTaskWorker, worker_config

ROOT = Path(__file__).resolve().parent.parent


def pytest_unconfigure(config: pytest.Config) -> None:
    # temporalio can SIGSEGV during interpreter teardown (sdk-python#300): leave with
    # pytest's own exit status instead of letting a green run die with 139.
    status = getattr(config, "_exit_status", None)
    if status is not None and not os.environ.get("PYTEST_NO_OS_EXIT"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))


# Figures the issues ask a test to print (schemathesis request count, admin list time):
# shown at the end of every run, whatever pytest's output capture.
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUMMARY:
        terminalreporter.section("measured")
        for line in SUMMARY:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._exit_status = exitstatus  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[DevServer]:
    server = start_dev_server()
    try:
        yield server
    finally:
        server.stop()


def tasks_setting(target_host: str, **options: Any) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
            "QUEUES": [],
            "OPTIONS": {
                "target_host": target_host,
                "task_queue": f"test-{uuid.uuid4().hex[:12]}",
                "heartbeat_timeout": 2,
                "connect_timeout": 2,
                **options,
            },
        }
    }


@pytest.fixture
def backend_options() -> dict[str, Any]:
    """Extra OPTIONS for this test's backend (override the fixture to change them)."""
    return {}


@pytest.fixture
def backend(
    temporal_server: DevServer, backend_options: dict[str, Any]
) -> Iterator[TemporalTaskBackend]:
    """The 'default' backend on its own task queue, for this test only."""
    with override_settings(TASKS=tasks_setting(temporal_server.target_host, **backend_options)):
        backend = task_backends["default"]
        assert isinstance(backend, TemporalTaskBackend)
        yield backend


class ThreadWorker:
    """A worker running in this process on its own event loop thread."""

    def __init__(self, backend: TemporalTaskBackend, **flags: Any) -> None:
        self.config = worker_config(backend, **flags)
        self.worker = TemporalTaskWorker(backend, self.config)
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.worker.run())
        except BaseException as e:
            self.error = e

    def start(self) -> ThreadWorker:
        self.thread.start()
        assert self.worker.ready.wait(timeout=60), f"worker did not start: {self.error!r}"
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.worker.request_stop)
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "worker did not stop"
        if self.error:
            raise self.error


@pytest.fixture
def start_worker(backend: TemporalTaskBackend) -> Iterator[Any]:
    workers: list[ThreadWorker] = []

    def start(**flags: Any) -> ThreadWorker:
        worker = ThreadWorker(backend, **flags).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.thread.is_alive():
            worker.stop()


@pytest.fixture
def worker(start_worker: Any) -> ThreadWorker:
    return start_worker()  # type: ignore[no-any-return]


def subprocess_env(backend: TemporalTaskBackend) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEMPORAL_TARGET_HOST": backend.config.target_host,
        "TEMPORAL_TASK_QUEUE": backend.config.task_queue,
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def spawn_worker(backend: TemporalTaskBackend) -> Iterator[Any]:
    """Start `python -m django_tasks_temporal.worker` as a real process."""
    processes: list[subprocess.Popen[str]] = []

    def spawn(*flags: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "django_tasks_temporal.worker", *flags],
            env={**subprocess_env(backend), **(env or {})},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def started_attempts(gate: str) -> int:
    """How many attempts of `tasks.wait_for_file(gate)` have begun (one line each)."""
    try:
        with open(gate + ".started") as f:
            return f.read().count("\n")
    except FileNotFoundError:
        return 0


def wait_finished(backend: TemporalTaskBackend, result_id: str, timeout: float = 30) -> Any:
    return wait_for(
        lambda: (r := backend.get_result(result_id)).is_finished and r, timeout=timeout
    )


def wait_visible(backend: TemporalTaskBackend, count: int, **query: Any) -> None:
    """Wait until visibility (eventually consistent) lists `count` tasks for the query."""
    from django_tasks_temporal.operations import TaskOperations

    ops = TaskOperations(backend)
    wait_for(lambda: ops.count(ops.query(**query)) == count, timeout=30, interval=0.1)


def history_events(backend: TemporalTaskBackend, task_id: str) -> list[Any]:
    """The task's history events (its current run)."""
    from django_tasks_temporal import client as temporal

    async def fetch(client: Any) -> Any:
        return await client.get_workflow_handle(task_id).fetch_history()

    return list(temporal.call(backend.config, fetch).events)


def print_history(backend: TemporalTaskBackend, task_id: str) -> None:
    """Print a task's history (a debugging aid for failing tests)."""
    from temporalio.api.enums.v1 import EventType

    events = history_events(backend, task_id)
    start = events[0].event_time.ToDatetime()
    for event in events:
        offset = (event.event_time.ToDatetime() - start).total_seconds()
        print(f"{event.event_id:3} {offset:7.3f} {EventType.Name(event.event_type)}")


def most_bodies_at_once(log: str) -> int:
    """How many bodies logged by `tasks.log_body`-style tasks ever ran at the same time."""
    events: list[tuple[float, int]] = []
    with open(log) as f:
        for line in f:
            kind, at = line.split()
            events.append((float(at), 1 if kind == "start" else -1))
    running = most = 0
    for _, change in sorted(events):  # at the same instant, an end sorts before a start
        running += change
        most = max(most, running)
    return most
