"""operations.py on a real server: release, run-one, execute, retry, purge, list, count."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings
from django.utils import timezone

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.operations import TaskConflict, TaskOperations
from tests import tasks
from tests.conftest import tasks_setting, wait_finished, wait_for, wait_visible

GATED = "nightly"


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"trigger_queues": [GATED]}


@pytest.fixture
def ops(backend: TemporalTaskBackend) -> TaskOperations:
    return TaskOperations(backend)


def gated(task: Any, priority: int = 0, **changes: Any) -> Any:
    return task.using(queue_name=GATED, priority=priority, **changes)


def test_gated_tasks_wait_until_released(backend: TemporalTaskBackend, ops: TaskOperations,
                                         worker: Any) -> None:
    result = gated(tasks.add).enqueue(1, 2)
    summary = ops.get(result.id)
    assert summary.status == TaskResultStatus.READY
    assert summary.waiting_for_trigger
    released = ops.execute(result.id, wait=30)
    assert released.task_ids == [result.id]
    assert released.tasks is not None
    [final] = released.tasks
    assert final.status == TaskResultStatus.SUCCESSFUL
    assert final.return_value == 3
    assert not final.waiting_for_trigger


def test_run_one_releases_highest_priority_then_oldest(
    backend: TemporalTaskBackend, ops: TaskOperations
) -> None:
    low = gated(tasks.add, priority=-10).enqueue(0, 0)
    high_old = gated(tasks.add, priority=50).enqueue(1, 1)
    high_new = gated(tasks.add, priority=50).enqueue(2, 2)
    mid = gated(tasks.add, priority=0).enqueue(3, 3)
    wait_visible(backend, 4, queue_name=GATED, waiting=True)
    # No worker runs: each release is only a signal, and run-one must not pick it twice.
    order = [ops.run_one(GATED).task_ids for _ in range(4)]
    assert order == [[high_old.id], [high_new.id], [mid.id], [low.id]]
    nothing = ops.run_one(GATED)
    assert nothing.count == 0 and nothing.task_ids == []


def test_run_releases_all_waiting_with_a_batch_signal(
    backend: TemporalTaskBackend, ops: TaskOperations, start_worker: Any
) -> None:
    results = [gated(tasks.add).enqueue(i, i) for i in range(5)]
    other = tasks.add.enqueue(10, 10)  # not gated: never part of a release
    wait_visible(backend, 5, queue_name=GATED, waiting=True)
    released = ops.run(GATED)
    assert released.batch_job_id
    assert sorted(released.task_ids) == sorted(r.id for r in results)
    start_worker()
    for r in [*results, other]:
        assert wait_finished(backend, r.id).status == TaskResultStatus.SUCCESSFUL
    assert ops.run(GATED).count == 0


def test_run_with_a_limit_releases_in_priority_order(
    backend: TemporalTaskBackend, ops: TaskOperations
) -> None:
    first = gated(tasks.add, priority=90).enqueue(1, 1)
    second = gated(tasks.add, priority=10).enqueue(1, 1)
    third = gated(tasks.add, priority=-90).enqueue(1, 1)
    wait_visible(backend, 3, queue_name=GATED, waiting=True)
    released = ops.run(GATED, max_tasks=2)
    assert released.task_ids == [first.id, second.id]
    assert released.batch_job_id is None
    # No worker runs, so both still wait in visibility: the next release skips them.
    assert ops.run(GATED, max_tasks=2).task_ids == [third.id]


def test_release_keeps_run_after_unless_forced(
    backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    later = timezone.now() + timedelta(hours=1)
    kept = gated(tasks.add, run_after=later).enqueue(1, 1)
    forced = gated(tasks.add, run_after=later).enqueue(2, 2)
    ops.execute(kept.id)
    done = ops.execute(forced.id, force=True, wait=30)
    assert done.tasks is not None and done.tasks[0].status == TaskResultStatus.SUCCESSFUL
    summary = ops.get(kept.id)
    assert summary.status == TaskResultStatus.READY
    assert not summary.waiting_for_trigger
    assert summary.run_after == later
    # Released, it no longer counts as waiting for a trigger (DjangoTaskState RELEASED).
    wait_for(lambda: ops.count(ops.query(queue_name=GATED, waiting=True)) == 0)


def test_execute_refuses_what_does_not_apply(
    backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    with pytest.raises(TaskResultDoesNotExist):
        ops.execute("no-such-task")
    done = tasks.add.enqueue(1, 1)
    wait_finished(backend, done.id)
    with pytest.raises(TaskConflict, match="finished") as excinfo:
        ops.execute(done.id)
    assert excinfo.value.code == "task_finished"
    with pytest.raises(TaskConflict, match="finished"):
        ops.execute(done.id, allow_retry=True)  # only a FAILED task is retried
    running = tasks.sleep.enqueue(3)
    wait_for(lambda: ops.get(running.id).status == TaskResultStatus.RUNNING)
    with pytest.raises(TaskConflict) as excinfo:
        ops.execute(running.id)
    assert excinfo.value.code == "task_running"


def test_retry_reruns_a_failed_task_under_its_id(
    backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    failed = tasks.fail.enqueue("first")
    assert wait_finished(backend, failed.id).status == TaskResultStatus.FAILED
    with pytest.raises(TaskConflict):
        ops.execute(failed.id)
    again = ops.execute(failed.id, allow_retry=True, wait=30)
    assert again.tasks is not None
    [summary] = again.tasks
    assert summary.status == TaskResultStatus.FAILED
    assert len(summary.errors) == 2  # the first run's attempt is kept
    result = backend.get_result(failed.id)
    assert len(result.worker_ids) == 2
    assert [e.exception_class_path for e in result.errors] == ["tests.tasks.TaskBoom"] * 2


def test_purge_deletes_finished_tasks_of_one_queue(
    backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    finished = [tasks.add.enqueue(i, i) for i in range(3)]
    for r in finished:
        wait_finished(backend, r.id)
    waiting = gated(tasks.add).enqueue(0, 0)
    assert ops.purge(days=1, queue_name="default").matched == 0  # too recent
    purged = ops.purge(days=0, queue_name="default")
    assert purged.matched == 3 and purged.batch_job_id
    assert ops.purge(days=0, queue_name=GATED).matched == 0  # open tasks are kept
    wait_for(lambda: ops.count(ops.query(queue_name="default")) == 0, timeout=60)
    for r in finished:
        with pytest.raises(TaskResultDoesNotExist):
            wait_for(lambda r=r: backend.get_result(r.id) and False, timeout=60)
    assert ops.get(waiting.id).status == TaskResultStatus.READY


def test_list_and_count_through_visibility(
    backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    ok = [tasks.add.enqueue(i, i) for i in range(4)]
    bad = tasks.fail.enqueue("x")
    for r in [*ok, bad]:
        wait_finished(backend, r.id)
    wait = gated(tasks.add, priority=7).enqueue(1, 1)
    query = ops.query(queue_name="default")
    wait_for(lambda: ops.count(query) == 5)
    first = ops.list_tasks(query, page_size=3)
    assert len(first.rows) == 3 and first.next_page_token
    rest = ops.list_tasks(query, page_size=3, page_token=first.next_page_token)
    assert len(rest.rows) == 2
    assert {row.id for row in [*first.rows, *rest.rows]} == {r.id for r in [*ok, bad]}
    [row] = ops.list_tasks(ops.query(task_id=wait.id)).rows
    assert (row.task_path, row.queue_name, row.priority) == ("tests.tasks.add", GATED, 7)
    assert row.waiting_for_trigger and row.status == TaskResultStatus.READY
    failed = ops.list_tasks(ops.query(statuses=[TaskResultStatus.FAILED], queue_name="default"))
    assert [r.id for r in failed.rows] == [bad.id]
    counts = ops.count_by_status(ops.query(queue_name="default"))
    assert counts == {"Completed": 4, "Failed": 1}
    summaries = ops.get_many([bad.id, "missing"])
    assert list(summaries) == [bad.id]
    assert dataclasses.asdict(summaries[bad.id])["errors"][0]["exception_class_path"] == (
        "tests.tasks.TaskBoom"
    )


def test_queries_see_only_this_backends_task_queues(
    temporal_server: Any, backend: TemporalTaskBackend, ops: TaskOperations, worker: Any
) -> None:
    """Two projects may share a namespace and a backend alias, never their tasks."""
    mine = [tasks.add.enqueue(1, 1), gated(tasks.add).enqueue(2, 2)]
    wait_finished(backend, mine[0].id)
    wait_for(lambda: ops.count(ops.query()) == 2)
    with override_settings(TASKS=tasks_setting(temporal_server.target_host)):
        other_backend = task_backends["default"]
        assert isinstance(other_backend, TemporalTaskBackend)
        other = TaskOperations(other_backend)
        theirs = tasks.add.enqueue(3, 3)
        wait_for(lambda: other.count(other.query()) == 1)
        assert [r.id for r in other.list_tasks(other.query()).rows] == [theirs.id]
        assert other.purge(days=0).matched == 0  # my finished task is not theirs to purge
    assert {r.id for r in ops.list_tasks(ops.query()).rows} == {r.id for r in mine}
    assert ops.count_by_status(ops.query()) == {"Completed": 1, "Running": 1}
