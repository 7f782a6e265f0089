"""The worker process: flags, backend selection, logs, graceful and forced shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus
from django.test import override_settings

from django_tasks_temporal.exceptions import WorkerShutDown
from tests import tasks
from tests.conftest import (
    ROOT,
    started_attempts,
    subprocess_env,
    tasks_setting,
    wait_finished,
    wait_for,
)


def test_sigterm_lets_the_running_task_finish_then_exits_zero(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "go")
    worker = spawn_worker("--identity", "graceful", "--shutdown-timeout", "30")
    enqueued = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1, timeout=30)
    worker.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert worker.poll() is None, "the worker must wait for its running task"
    open(gate, "w").close()
    assert worker.wait(timeout=30) == 0
    output = worker.stdout.read()
    assert f"Task id={enqueued.id} path=tests.tasks.wait_for_file state=RUNNING" in output
    assert f"Task id={enqueued.id} path=tests.tasks.wait_for_file state=SUCCESSFUL" in output
    result = backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.worker_ids == ["graceful"]


def test_task_cut_short_by_shutdown_runs_again_elsewhere(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "go")
    first = spawn_worker("--identity", "leaving", "--shutdown-timeout", "0.5")
    enqueued = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1, timeout=30)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    handed_back = backend.get_result(enqueued.id)
    spawn_worker("--identity", "staying")
    wait_for(lambda: started_attempts(gate) == 2, timeout=30)
    open(gate, "w").close()
    result = wait_finished(backend, enqueued.id)
    # Handed back at once (not after a heartbeat timeout), and not counted as a failure.
    assert handed_back.status == TaskResultStatus.READY
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.worker_ids == ["leaving", "staying"]
    [error] = result.errors
    assert error.exception_class is WorkerShutDown
    assert "Worker 'leaving' shut down before the attempt finished" in error.traceback


def test_second_signal_exits_at_once(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "go")
    worker = spawn_worker("--shutdown-timeout", "60")
    tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1, timeout=30)
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=5) != 0


def run_worker_cli(backend, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django_tasks_temporal.worker", *flags],
        env=subprocess_env(backend),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-concurrent-activities", "0"], "expected a whole number >= 1"),
        (["--max-concurrent-activities", "many"], "expected a whole number >= 1"),
        (["--max-concurrent-workflow-tasks", "1"], "expected a whole number >= 2"),
        (["--shutdown-timeout", "-1"], "expected seconds >= 0"),
        (["--shutdown-timeout", "nan"], "expected seconds >= 0"),
        (["--metrics-bind", "9464"], "expected host:port with a port from 1 to 65535"),
        (["--health-bind", "127.0.0.1:70000"], "expected host:port with a port from 1 to 65535"),
        (["--burst", "--idle", "-1"], "expected seconds >= 0"),
        (["--burst", "--max-runtime", "0"], "expected seconds > 0"),
        (["--burst", "--max-tasks", "0"], "expected a whole number >= 1"),
        (["--idle", "5"], "--idle only applies with --burst"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_flags_are_refused(backend, flags, message):
    completed = run_worker_cli(backend, *flags)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unreachable_server_stops_the_worker_with_one_clear_line(backend):
    completed = subprocess.run(
        [sys.executable, "-m", "django_tasks_temporal.worker"],
        env={**subprocess_env(backend), "TEMPORAL_TARGET_HOST": "127.0.0.1:9"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "Worker not started: The Temporal server at '127.0.0.1:9'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unknown_backend_is_refused(backend):
    completed = run_worker_cli(backend, "--backend", "nope")
    assert completed.returncode == 2
    assert "TASKS['nope'] is not a django_tasks_temporal.TemporalTaskBackend" in completed.stderr


def test_management_command_picks_backends(temporal_server):
    immediate = {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
    temporal = tasks_setting(temporal_server.target_host)["default"]
    with override_settings(TASKS={"default": immediate}):
        with pytest.raises(CommandError, match="TASKS\\['default'\\] is not"):
            call_command("run_temporal_worker", "--no-fallback")
        with pytest.raises(CommandError, match="no such backend"):
            call_command("run_temporal_worker", "--backend", "missing")
    from django_tasks_temporal.cli import select_backend

    with override_settings(TASKS={"default": immediate, "durable": temporal}):
        assert select_backend(None, fallback=True).alias == "durable"
        with pytest.raises(Exception, match="is not a"):
            select_backend(None, fallback=False)
        with pytest.raises(Exception, match="is not a"):
            select_backend("default", fallback=True)  # named explicitly: no fallback


def test_worker_registers_missing_search_attributes():
    from django_tasks_temporal.devserver import start_dev_server
    from django_tasks_temporal.search_attributes import SEARCH_ATTRIBUTES

    with start_dev_server(search_attributes=False) as server:
        # A fresh server may take a while to answer on a busy machine.
        with override_settings(TASKS=tasks_setting(server.target_host, connect_timeout=20)):
            from django.tasks import task_backends

            from tests.conftest import ThreadWorker

            backend = task_backends["default"]
            worker = ThreadWorker(backend).start()
            try:
                result = wait_finished(backend, tasks.add.enqueue(1, 2).id)
                assert result.return_value == 3
            finally:
                worker.stop()
            from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

            from django_tasks_temporal import client as temporal

            async def names(client):
                response = await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace="default")
                )
                return set(response.custom_attributes)

            assert set(SEARCH_ATTRIBUTES) <= temporal.call(backend.config, names)


def test_a_retried_attempt_is_one_warning_and_no_error(backend, spawn_worker, tmp_path):
    worker = spawn_worker("--identity", "logger")
    enqueued = tasks.fail_twice_then_succeed.enqueue(str(tmp_path))
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    output = worker.stdout.read()
    assert " ERROR " not in output, output
    assert "Traceback" not in output, output
    for attempt, pause in ((1, 1), (2, 2)):
        line = (
            f"Task id={enqueued.id} path=tests.tasks.fail_twice_then_succeed attempt {attempt} "
            f"of 3 failed: tests.tasks.TaskBoom: attempt {attempt}; retrying in {pause}s"
        )
        assert sum(line in row and " WARNING " in row for row in output.splitlines()) == 1
    assert "\x1b[" not in output  # no colour codes from Temporal's core
