"""Enqueue, results and bad input, against the session's real dev server."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.test import override_settings

from django_tasks_temporal import client as temporal
from django_tasks_temporal.exceptions import InvalidBackendOptions, TemporalUnavailable
from tests import tasks
from tests.conftest import tasks_setting, wait_finished


def count_workflows(backend, query: str = "") -> int:
    config = backend.config

    async def count(client):
        q = f"TaskQueue = '{config.task_queue}'" + (f" AND {query}" if query else "")
        return (await client.count_workflows(q)).count

    return temporal.call(config, count)


def test_capabilities_are_all_supported(backend):
    assert backend.supports_defer
    assert backend.supports_async_task
    assert backend.supports_get_result
    assert backend.supports_priority


def test_successful_task_has_a_complete_result(backend, worker):
    before = datetime.now(UTC)
    enqueued = tasks.add.enqueue(2, 3)
    assert enqueued.status == TaskResultStatus.READY
    assert enqueued.enqueued_at is not None and enqueued.worker_ids == []
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.args == [2, 3] and result.kwargs == {}
    assert result.task.func is tasks.add.func
    assert result.worker_ids == [worker.config.identity]
    assert result.attempts == 1 and result.errors == []
    assert before <= result.enqueued_at <= result.started_at
    assert result.started_at == result.last_attempted_at <= result.finished_at
    assert result.backend == "default"


def test_task_get_result_and_refresh(backend, worker):
    enqueued = tasks.echo.enqueue(1, "two", key=[3, {"four": None}])
    wait_finished(backend, enqueued.id)
    result = tasks.echo.get_result(enqueued.id)
    assert result.return_value == {"args": [1, "two"], "kwargs": {"key": [3, {"four": None}]}}
    enqueued.refresh()
    assert enqueued.status == TaskResultStatus.SUCCESSFUL
    assert enqueued.return_value == result.return_value


def test_tuple_arguments_are_normalised_to_json(backend, worker):
    result = wait_finished(backend, tasks.echo.enqueue((1, 2), when=(3,)).id)
    assert result.args == [[1, 2]]
    assert result.return_value == {"args": [[1, 2]], "kwargs": {"when": [3]}}


def test_async_task_and_async_api(backend, worker):
    async def scenario():
        enqueued = await tasks.async_add.aenqueue(20, 22)
        for _ in range(200):
            result = await tasks.async_add.aget_result(enqueued.id)
            if result.is_finished:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError("async task did not finish")

    result = asyncio.run(scenario())
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42


def test_result_is_readable_without_a_worker(backend, start_worker):
    worker = start_worker()
    enqueued = tasks.add.enqueue(1, 1)
    wait_finished(backend, enqueued.id)
    worker.stop()
    started = time.monotonic()
    result = backend.get_result(enqueued.id)
    assert time.monotonic() - started < 2  # no query (which would wait for a worker)
    assert result.return_value == 2


def test_ready_while_no_worker_runs(backend):
    enqueued = tasks.add.enqueue(1, 2)
    result = backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.READY
    assert result.worker_ids == [] and result.started_at is None


def test_unknown_and_malformed_ids_do_not_exist(backend):
    for bad in ["no-such-task", "", "x" * 2000, "../../etc"]:
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(bad)
    with pytest.raises(TaskResultDoesNotExist):
        asyncio.run(backend.aget_result("no-such-task"))


def test_return_value_that_is_not_json_fails_the_task(backend, worker):
    result = wait_finished(backend, tasks.returns_object.enqueue().id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError


def test_non_json_arguments_are_refused_and_start_nothing(backend):
    with pytest.raises(TypeError, match="JSON serialisable"):
        tasks.echo.enqueue(object())
    with pytest.raises(TypeError, match="JSON serialisable"):
        tasks.echo.enqueue(when=datetime.now(UTC))
    assert count_workflows(backend) == 0


def test_task_must_be_module_level(backend):
    def local():
        pass

    with pytest.raises(InvalidTask, match="module level"):
        tasks.add.using().__class__(func=local)


def test_unknown_queue_is_refused_when_queues_are_listed(temporal_server):
    setting = tasks_setting(temporal_server.target_host)
    setting["default"]["QUEUES"] = ["default", "emails"]
    with override_settings(TASKS=setting):
        tasks.add.using(queue_name="emails")  # allowed
        with pytest.raises(InvalidTask, match="Queue 'reports' is not valid"):
            tasks.add.using(queue_name="reports")


def test_naive_run_after_is_refused(backend):
    with pytest.raises(InvalidTask, match="aware"):
        tasks.add.using(run_after=datetime.now())


def test_per_task_options_are_validated(backend):
    for bad in [0, -1, 1.5, True]:
        with pytest.raises(InvalidTask, match="max_attempts"):
            dataclasses.replace(tasks.add, max_attempts=bad)
    with pytest.raises(InvalidTask, match="timeout"):
        dataclasses.replace(tasks.add, timeout=0)


def test_unreachable_server_fails_fast_naming_the_target():
    port_nobody_listens_on = "127.0.0.1:9"
    with override_settings(TASKS=tasks_setting(port_nobody_listens_on, connect_timeout=1)):
        started = time.monotonic()
        with pytest.raises(TemporalUnavailable, match=r"127\.0\.0\.1:9"):
            tasks.add.enqueue(1, 2)
        with pytest.raises(TemporalUnavailable, match=r"127\.0\.0\.1:9"):
            task_backends["default"].get_result("anything")
        assert time.monotonic() - started < 10


def test_invalid_options_raise_a_clear_error_on_use(temporal_server):
    with override_settings(TASKS=tasks_setting(temporal_server.target_host, max_attempts=0)):
        with pytest.raises(InvalidBackendOptions, match="max_attempts"):
            tasks.add.enqueue(1, 2)


def test_one_client_per_process(backend, monkeypatch):
    connects = []
    real_connect = temporal.connect

    async def counting_connect(options):
        connects.append(options.target_host)
        return await real_connect(options)

    monkeypatch.setattr(temporal, "connect", counting_connect)
    monkeypatch.setattr(temporal, "_clients", {})
    ids = [tasks.add.enqueue(i, i).id for i in range(5)]
    for result_id in ids:
        backend.get_result(result_id)
    asyncio.run(tasks.add.aenqueue(1, 1))
    backend.cancel(ids[0])
    assert len(connects) == 1


def test_override_settings_switches_backends(temporal_server, worker):
    with override_settings(
        TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ):
        result = tasks.add.enqueue(3, 4)
        assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 7
    result = tasks.add.enqueue(3, 4)
    assert result.status == TaskResultStatus.READY
    assert wait_finished(task_backends["default"], result.id).return_value == 7


def test_changed_options_take_effect_without_restart(temporal_server):
    for queue in ["first-queue", "second-queue"]:
        with override_settings(TASKS=tasks_setting(temporal_server.target_host, task_queue=queue)):
            assert task_backends["default"].config.task_queue == queue


@pytest.mark.parametrize("delta", [timedelta(days=-1), timedelta(seconds=-5)])
def test_past_run_after_runs_at_once(backend, worker, delta):
    enqueued = tasks.add.using(run_after=datetime.now(UTC) + delta).enqueue(1, 1)
    started = time.monotonic()
    result = wait_finished(backend, enqueued.id)
    assert result.return_value == 2
    assert time.monotonic() - started < 5
