"""`max_concurrent_activities` is a promise about function bodies (issue 10, defects 4, 5).

A sync function cannot be interrupted: after its attempt timed out or was cancelled it
runs on in its thread. Its slot stays taken until it returns, its late outcome and
signals are dropped, and `task_finished` is sent once per attempt, saying what
`get_result` says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished

from django_tasks_temporal.exceptions import TaskCancelled, TaskTimedOut
from tests import tasks
from tests.conftest import most_bodies_at_once, started_attempts, wait_finished, wait_for


@pytest.fixture
def finished_signals() -> Iterator[list[tuple[str, str, list[str]]]]:
    """(task id, status, error class paths) of every task_finished sent in this process."""
    sent: list[tuple[str, str, list[str]]] = []

    def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
        paths = [e.exception_class_path for e in task_result.errors]
        sent.append((task_result.id, str(task_result.status), paths))

    task_finished.connect(receiver, dispatch_uid="test_concurrency")
    yield sent
    task_finished.disconnect(dispatch_uid="test_concurrency")


Sent = list[tuple[str, str, list[str]]]


def signals_for(sent: Sent, task_id: str) -> list[tuple[str, list[str]]]:
    return [(status, paths) for i, status, paths in sent if i == task_id]


@pytest.mark.parametrize(
    "backend_options", [{"max_concurrent_activities": 1, "retry_initial_interval": 0}]
)
def test_one_slot_never_runs_two_bodies_across_a_timeout_and_a_retry(
    backend, start_worker, tmp_path, finished_signals
):
    start_worker()
    log = str(tmp_path / "bodies")
    # timeout=1 and max_attempts=2: each body runs 2.5 s, outliving its attempt.
    slow = tasks.outlives_its_timeout.enqueue(log, 2.5)
    wait_for(lambda: (tmp_path / "bodies").exists())
    other = tasks.log_body.enqueue(log, 0.2)
    # The attempt ends at its timeout, not when its function returns.
    wait_for(lambda: backend.get_result(slow.id).errors, timeout=10, interval=0.02)
    assert "end" not in (tmp_path / "bodies").read_text()
    slow_result = wait_finished(backend, slow.id, timeout=60)
    other_result = wait_finished(backend, other.id, timeout=60)

    assert most_bodies_at_once(log) == 1
    assert slow_result.status == TaskResultStatus.FAILED
    assert [e.exception_class for e in slow_result.errors] == [TaskTimedOut, TaskTimedOut]
    assert other_result.status == TaskResultStatus.SUCCESSFUL
    # One task_finished per attempt, saying what get_result said then: READY (a retry
    # follows), then FAILED; the bodies' late returns send nothing.
    timed_out = "django_tasks_temporal.exceptions.TaskTimedOut"
    wait_for(lambda: len(signals_for(finished_signals, slow.id)) >= 2)
    time.sleep(3)  # the second body returns meanwhile
    assert signals_for(finished_signals, slow.id) == [
        ("READY", [timed_out]),
        ("FAILED", [timed_out, timed_out]),
    ]


@pytest.mark.parametrize("backend_options", [{"max_concurrent_activities": 1}])
def test_cancelling_a_running_sync_task_sends_one_matching_task_finished(
    backend, start_worker, tmp_path, finished_signals
):
    worker = start_worker()
    gate = str(tmp_path / "go")
    running = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1)
    assert backend.cancel(running.id) is True
    result = wait_finished(backend, running.id, timeout=30)
    assert result.status == TaskResultStatus.FAILED
    assert result.worker_ids == [worker.config.identity]
    [error] = result.errors
    assert error.exception_class is TaskCancelled

    # The function still runs in its thread: it keeps the only slot.
    queued = tasks.add.enqueue(1, 2)
    time.sleep(1.5)
    assert backend.get_result(queued.id).status == TaskResultStatus.READY
    open(gate, "w").close()  # the cancelled function returns
    assert wait_finished(backend, queued.id, timeout=30).return_value == 3
    cancelled = "django_tasks_temporal.exceptions.TaskCancelled"
    assert signals_for(finished_signals, running.id) == [("FAILED", [cancelled])]
