"""Failures, retries, TaskContext and crash recovery: one TaskResult entry per attempt."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.tasks import TaskResultStatus

from django_tasks_temporal.exceptions import TaskCancelled, WorkerLost
from tests import tasks
from tests.conftest import SUMMARY, started_attempts, wait_finished, wait_for


def test_failing_task_is_failed_after_one_attempt(backend, worker):
    result = wait_finished(backend, tasks.fail.enqueue("nope").id)
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1 and len(result.errors) == 1
    error = result.errors[0]
    assert error.exception_class_path == "tests.tasks.TaskBoom"
    assert error.exception_class is tasks.TaskBoom
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert 'tests/tasks.py", line' in error.traceback and "in fail" in error.traceback
    assert error.traceback.rstrip().endswith("tests.tasks.TaskBoom: nope")
    assert result.finished_at is not None
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018


@pytest.mark.parametrize("backend_options", [{"retry_initial_interval": 0.1}])
def test_per_task_retries_keep_every_attempt(backend, worker, tmp_path):
    result = wait_finished(backend, tasks.fail_twice_then_succeed.enqueue(str(tmp_path)).id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 3
    assert result.attempts == 3
    assert [e.exception_class for e in result.errors] == [tasks.TaskBoom, tasks.TaskBoom]
    assert "attempt 1" in result.errors[0].traceback
    assert "attempt 2" in result.errors[1].traceback
    assert result.started_at < result.last_attempted_at


@pytest.mark.parametrize(
    "backend_options", [{"max_attempts": 2, "retry_initial_interval": 0.1}]
)
def test_backend_retry_policy(backend, worker):
    result = wait_finished(backend, tasks.fail.enqueue().id)
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 2 and len(result.errors) == 2


def test_task_context_sees_its_own_result(backend, worker):
    enqueued = tasks.context_info.enqueue()
    result = wait_finished(backend, enqueued.id)
    assert result.return_value == {
        "id": enqueued.id,
        "attempt": 1,
        "worker_ids": [worker.config.identity],
    }


def test_task_path_that_no_longer_imports_fails_with_the_reason(backend, worker):
    from django_tasks_temporal import client as temporal
    from django_tasks_temporal.payloads import RunTaskInput

    run_input = backend._run_input(tasks.add, (1, 2), {}, backend.config)
    gone = RunTaskInput(**{**run_input.__dict__, "task_path": "tests.tasks.removed_task"})
    temporal.call(backend.config, backend._starter(gone, backend.config, "gone-task"))

    def finished():
        from django_tasks_temporal.results import fetch_task_state

        state = temporal.call(backend.config, lambda c: fetch_task_state(c, "gone-task"))
        return state if state.finished_at else None

    state = wait_for(finished)
    assert state.status == TaskResultStatus.FAILED
    [attempt] = state.attempts
    assert attempt.error.exception_class_path == "builtins.ValueError"
    assert "tests.tasks.removed_task" in attempt.error.traceback


def test_timeout_option_fails_a_long_attempt(backend, worker):
    enqueued = tasks.async_sleep.using().__class__(
        func=tasks.async_sleep.func, timeout=0.5
    ).enqueue(30)
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == (
        "django_tasks_temporal.exceptions.TaskTimedOut"
    )


def test_worker_killed_mid_task_is_recovered_on_another_worker(
    backend, spawn_worker, tmp_path
):
    gate = str(tmp_path / "go")
    first = spawn_worker("--identity", "doomed-worker")
    enqueued = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1, timeout=30)
    running = backend.get_result(enqueued.id)
    assert running.status == TaskResultStatus.RUNNING
    assert running.worker_ids == ["doomed-worker"]
    second = spawn_worker("--identity", "second-worker")  # standing by
    wait_for(lambda: "serving" in (second.stdout.readline() or ""), timeout=30)
    time.sleep(1.5)  # mid-task: past the first heartbeat

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    wait_for(lambda: started_attempts(gate) == 2, timeout=30)
    recovered_after = time.monotonic() - killed_at
    open(gate, "w").close()

    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.worker_ids == ["doomed-worker", "second-worker"]
    assert result.attempts == 2
    assert result.return_value == {"attempt": 2, "worker_ids": result.worker_ids}
    [lost] = result.errors
    assert lost.exception_class is WorkerLost and "doomed-worker" in lost.traceback
    # heartbeat_timeout is 2 s in the test settings: found within it, then 3 s to ask.
    assert recovered_after < 2 + 5
    SUMMARY.append(f"crash recovery: SIGKILLed mid-task, ran again {recovered_after:.1f} s later "
                   "(heartbeat_timeout 2 s)")


@pytest.mark.parametrize("backend_options", [{"max_lost_attempts": 0}])
def test_a_task_that_keeps_losing_its_worker_is_failed(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "never")
    first = spawn_worker("--identity", "first")
    enqueued = tasks.wait_for_file.enqueue(gate, 120)
    wait_for(lambda: started_attempts(gate) == 1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    spawn_worker("--identity", "second")
    result = wait_finished(backend, enqueued.id, timeout=30)
    assert result.status == TaskResultStatus.FAILED
    assert result.worker_ids == ["first"]
    assert [e.exception_class for e in result.errors] == [WorkerLost]
    assert "Worker 'first' stopped" in result.errors[-1].traceback
    assert "max_lost_attempts is 0" in result.errors[-1].traceback
    assert started_attempts(gate) == 1  # never run a second time


def test_an_attempt_longer_than_the_heartbeat_timeout_is_not_lost(backend, worker):
    # heartbeat_timeout is 2 s here: the worker must keep the attempt alive, so a slow
    # task is neither killed nor run twice, and reads while it runs stay true.
    enqueued = tasks.sleep.enqueue(5)
    time.sleep(4)  # past at least one renewal of the attempt's workflow task
    running = backend.get_result(enqueued.id)
    result = wait_finished(backend, enqueued.id, timeout=30)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.attempts == 1 and result.errors == []
    assert running.status == TaskResultStatus.RUNNING
    assert running.worker_ids == result.worker_ids
    assert abs((running.started_at - result.started_at).total_seconds()) < 1


@pytest.mark.parametrize("backend_options", [{"retry_initial_interval": 60}])
def test_cancel_while_waiting_to_retry(backend, worker, tmp_path):
    enqueued = tasks.fail_twice_then_succeed.enqueue(str(tmp_path))
    wait_for(lambda: backend.get_result(enqueued.id).errors)
    waiting = backend.get_result(enqueued.id)
    assert waiting.status == TaskResultStatus.READY and waiting.attempts == 1
    assert backend.cancel(enqueued.id) is True
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1
    assert [e.exception_class for e in result.errors] == [tasks.TaskBoom, TaskCancelled]
    assert result.last_attempted_at == result.started_at
