"""Priority, queues, delays, concurrency and cancel, on a real server and worker."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus

from django_tasks_temporal.exceptions import TaskCancelled
from tests import tasks
from tests.conftest import wait_finished, wait_for


def test_priority_maps_onto_temporal_keys_in_the_right_direction(backend):
    key = backend.config.priority_key
    assert [key(p) for p in (100, 50, 0, -50, -100)] == [1, 2, 3, 4, 5]
    assert all(1 <= key(p) <= 5 for p in range(-100, 101))


@pytest.mark.parametrize("backend_options", [{"priority_levels": 3}])
def test_priority_stays_within_the_servers_levels(backend):
    assert {backend.config.priority_key(p) for p in range(-100, 101)} == {1, 2, 3}


def test_backlog_is_served_in_priority_order_by_a_one_slot_worker(backend, start_worker, tmp_path):
    order_file = str(tmp_path / "order")
    priorities = [p for p in (100, 50, 0, -50, -100) for _ in range(8)]
    random.Random(7).shuffle(priorities)
    ids = [
        tasks.record_order.using(priority=p).enqueue(order_file, str(p)).id
        for p in priorities
    ]
    start_worker(max_concurrent_activities=1)
    for result_id in ids:
        wait_finished(backend, result_id, timeout=60)
    served = [int(line) for line in open(order_file).read().split()]
    assert len(served) == len(priorities)
    pairs = inversions = 0
    for i in range(len(served)):
        for j in range(i + 1, len(served)):
            if served[i] != served[j]:
                pairs += 1
                inversions += served[i] < served[j]
    assert inversions / pairs <= 0.02, (served, inversions, pairs)


def test_queue_name_selects_a_temporal_task_queue(backend, start_worker):
    config = backend.config
    assert config.temporal_task_queue("default") == config.task_queue
    assert config.temporal_task_queue("emails") == f"{config.task_queue}.emails"
    start_worker(queues=["default"])
    email = tasks.add.using(queue_name="emails").enqueue(1, 2)
    default = tasks.add.enqueue(1, 2)
    wait_finished(backend, default.id)
    time.sleep(0.5)
    assert backend.get_result(email.id).status == TaskResultStatus.READY
    start_worker(queues=["emails"])
    assert wait_finished(backend, email.id).return_value == 3


def test_sync_tasks_run_in_parallel_threads(backend, worker):
    async def enqueue_all():
        return await asyncio.gather(*(tasks.sleep.aenqueue(1) for _ in range(8)))

    wait_finished(backend, tasks.add.enqueue(0, 0).id)  # a warm worker, as in production
    ids = [r.id for r in asyncio.run(enqueue_all())]
    results = [wait_finished(backend, result_id, timeout=30) for result_id in ids]
    # All eight were running at the same moment (whatever the machine's load)...
    assert max(r.started_at for r in results) < min(r.finished_at for r in results)
    assert len({r.return_value for r in results}) > 1  # several threads
    # ...and the batch took little more than one of them (1.2 s on a quiet machine).
    elapsed = max(r.finished_at for r in results) - min(r.enqueued_at for r in results)
    assert elapsed < timedelta(seconds=1.8), elapsed


@pytest.mark.parametrize("backend_options", [{"max_concurrent_activities": 1}])
def test_max_concurrent_activities_one_runs_one_at_a_time(backend, worker):
    ids = [tasks.sleep.enqueue(0.3).id for _ in range(4)]
    results = sorted((wait_finished(backend, i) for i in ids), key=lambda r: r.started_at)
    for earlier, later in itertools.pairwise(results):
        assert earlier.finished_at <= later.started_at


@pytest.mark.parametrize("backend_options", [{"max_concurrent_activities": 1}])
def test_one_slot_means_one_task_at_a_time_across_queues(backend, start_worker):
    start_worker(queues=["default", "emails", "reports"])
    ids = [
        tasks.sleep.using(queue_name=queue).enqueue(0.5).id
        for queue in ["default", "emails", "reports"]
        for _ in range(2)
    ]
    results = sorted((wait_finished(backend, i) for i in ids), key=lambda r: r.started_at)
    for earlier, later in itertools.pairwise(results):
        assert earlier.finished_at <= later.started_at


def test_one_slot_and_an_idle_queue_do_not_starve_the_busy_one(backend, spawn_worker):
    # The bug this guards: a slot shared through Temporal's slot supplier was reserved
    # ahead of need by the idle queue's Worker, and the busy queue ran one task, then none.
    ids = [tasks.sleep.enqueue(0.1).id for _ in range(4)]
    ids.append(tasks.async_sleep.enqueue(0.1).id)
    spawn_worker("--queue", "default", "--queue", "idle", "--max-concurrent-activities", "1")
    results = sorted((wait_finished(backend, i) for i in ids), key=lambda r: r.started_at)
    assert all(r.status == "SUCCESSFUL" for r in results)
    for earlier, later in itertools.pairwise(results):
        assert earlier.finished_at <= later.started_at


def test_async_tasks_run_concurrently_on_the_event_loop(backend, worker):
    ids = [tasks.async_sleep.enqueue(1).id for _ in range(10)]
    results = [wait_finished(backend, result_id) for result_id in ids]
    elapsed = max(r.finished_at for r in results) - min(r.started_at for r in results)
    assert elapsed < timedelta(seconds=1.8), elapsed
    assert {r.return_value for r in results} == {"async"}


def test_run_after_delays_the_task(backend, worker):
    run_after = datetime.now(UTC) + timedelta(seconds=2)
    enqueued = tasks.add.using(run_after=run_after).enqueue(1, 2)
    time.sleep(0.5)
    waiting = backend.get_result(enqueued.id)
    assert waiting.status == TaskResultStatus.READY
    assert waiting.task.run_after == run_after
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL, (result.errors, result.worker_ids)
    assert result.started_at >= run_after


def test_delayed_task_survives_worker_restart(backend, start_worker):
    first = start_worker()
    run_after = datetime.now(UTC) + timedelta(seconds=2)
    enqueued = tasks.add.using(run_after=run_after).enqueue(2, 2)
    time.sleep(0.5)
    first.stop()
    time.sleep(2)  # the timer fires while no worker runs
    assert backend.get_result(enqueued.id).status == TaskResultStatus.READY
    start_worker()
    assert wait_finished(backend, enqueued.id).return_value == 4


def test_cancel_a_waiting_task(backend, worker):
    enqueued = tasks.add.using(run_after=datetime.now(UTC) + timedelta(hours=1)).enqueue(1, 1)
    assert backend.cancel(enqueued.id) is True
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert [e.exception_class for e in result.errors] == [TaskCancelled]
    assert result.worker_ids == []
    assert backend.cancel(enqueued.id) is False


def test_cancel_a_running_task(backend, worker):
    enqueued = tasks.async_sleep.enqueue(30)
    wait_for(lambda: backend.get_result(enqueued.id).status == TaskResultStatus.RUNNING)
    assert backend.cancel(enqueued.id) is True
    result = wait_finished(backend, enqueued.id, timeout=15)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[-1].exception_class is TaskCancelled
    assert result.attempts == 1


def test_cancel_unknown_task(backend):
    from django.tasks.exceptions import TaskResultDoesNotExist

    with pytest.raises(TaskResultDoesNotExist):
        backend.cancel("no-such-task")
