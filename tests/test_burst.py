"""Burst mode: a worker that drains its queues and exits, with the true exit code."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
from django.tasks import TaskResultStatus

from django_tasks_temporal.exceptions import WorkerShutDown
from tests import tasks
from tests.conftest import (
    ROOT,
    SUMMARY,
    started_attempts,
    subprocess_env,
    wait_finished,
    wait_for,
)

IDLE = 5.0


def test_a_burst_drains_a_backlog_then_exits_zero(backend, spawn_worker):
    enqueued = [tasks.add.enqueue(i, i) for i in range(200)]
    began = time.time()
    worker = spawn_worker("--burst", "--idle", f"{IDLE:g}")
    assert worker.wait(timeout=180) == 0, worker.stdout.read()
    wall = time.time() - began
    results = [backend.get_result(r.id) for r in enqueued]
    assert {r.status for r in results} == {TaskResultStatus.SUCCESSFUL}
    last = max(datetime.timestamp(r.finished_at) for r in results if r.finished_at)
    drain = last - began
    output = worker.stdout.read()
    assert "stopping (queues drained" in output
    SUMMARY.append(
        f"burst: 200 tasks drained in {drain:.1f} s, exit 0 after {wall:.1f} s "
        f"(bar: drain + idle {IDLE:g} + 3 = {drain + IDLE + 3:.1f} s)"
    )
    assert wall <= drain + IDLE + 3


def test_tasks_enqueued_while_a_burst_runs_are_not_stranded(backend, spawn_worker):
    worker = spawn_worker("--burst", "--idle", "1")
    enqueued = []
    for _ in range(5):  # while it runs: each keeps it from counting as drained, although
        enqueued.append(tasks.sleep.enqueue(0.3))  # the pause is over --idle: a backlog
        time.sleep(2)  # reading is trusted only one stats-cache period after the last task
    assert worker.poll() is None, "the burst ended while tasks kept arriving"
    enqueued += [tasks.add.enqueue(1, 1) for _ in range(5)]
    assert worker.wait(timeout=60) == 0
    statuses = {r.id: backend.get_result(r.id).status for r in enqueued}
    # Anything handed back in the last instant waits (READY) for the next run.
    assert set(statuses.values()) <= {TaskResultStatus.SUCCESSFUL, TaskResultStatus.READY}
    if TaskResultStatus.READY in statuses.values():
        assert spawn_worker("--burst", "--idle", "1").wait(timeout=60) == 0
    for result in enqueued:
        assert wait_finished(backend, result.id, timeout=5).status == TaskResultStatus.SUCCESSFUL


def test_sigterm_hands_running_tasks_over_at_once_and_exits_zero(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "go")
    worker = spawn_worker("--burst", "--identity", "job", "--shutdown-timeout", "1")
    enqueued = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1)
    began = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0  # inside Cloud Run's 10 s before SIGKILL
    assert time.monotonic() - began < 8
    assert backend.get_result(enqueued.id).status == TaskResultStatus.READY  # handed back
    open(gate, "w").close()
    assert spawn_worker("--burst", "--identity", "next", "--idle", "1").wait(timeout=60) == 0
    result = wait_finished(backend, enqueued.id, timeout=5)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.worker_ids == ["job", "next"]
    assert result.errors[0].exception_class is WorkerShutDown


def test_limits_end_a_burst_with_exit_zero(backend, spawn_worker):
    enqueued = [tasks.sleep.enqueue(0.2) for _ in range(6)]
    worker = spawn_worker(
        "--burst", "--idle", "30", "--max-tasks", "2", "--max-concurrent-activities", "1"
    )
    assert worker.wait(timeout=60) == 0
    assert "stopping (took --max-tasks 2 attempts)" in worker.stdout.read()
    done = [r for r in enqueued if backend.get_result(r.id).status == TaskResultStatus.SUCCESSFUL]
    assert 2 <= len(done) <= 3  # one more may have been delivered as the limit was reached

    began = time.monotonic()
    worker = spawn_worker("--burst", "--idle", "30", "--max-runtime", "2", "--queue", "empty")
    assert worker.wait(timeout=30) == 0
    assert "stopping (ran for --max-runtime 2s)" in worker.stdout.read()
    assert time.monotonic() - began < 15


def test_a_configuration_error_exits_2(backend, spawn_worker):
    worker = spawn_worker("--burst", env={"TEMPORAL_TARGET_HOST": ""})
    assert worker.wait(timeout=60) == 2
    assert "OPTIONS['target_host'] must be a non-empty string" in worker.stdout.read()



@pytest.mark.parametrize(
    "flags, env, message",
    [
        (["--burst"], {"TEMPORAL_TARGET_HOST": ""}, "django_tasks_temporal.E003"),
        (["--max-tasks", "3"], {}, "--max-tasks only applies with --burst."),
    ],
)
def test_the_management_command_exits_2_on_a_configuration_error(backend, flags, env, message):
    done = subprocess.run(
        [sys.executable, "-m", "django", "run_temporal_worker", *flags],
        env={**subprocess_env(backend), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
