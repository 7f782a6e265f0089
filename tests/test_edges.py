"""Processes and readers at the edges (issue 10, defects 6-8 and the review's findings)."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import textwrap
import traceback
import uuid

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings
from django.utils import timezone

from django_tasks_temporal import client as temporal
from django_tasks_temporal import wait_result
from django_tasks_temporal.exceptions import TemporalUnavailable
from django_tasks_temporal.starting import start_task
from django_tasks_temporal.tasks import UnavailableTask
from tests import tasks
from tests.conftest import tasks_setting, wait_finished


def test_a_child_forked_after_use_can_enqueue_and_read(backend, worker):
    assert wait_result(tasks.add.enqueue(1, 2), timeout=30).return_value == 3  # parent used it
    pid = os.fork()
    if pid == 0:  # the child: a fresh Runtime, client and loop thread
        code = 1
        try:
            finished = wait_result(tasks.add.enqueue(2, 3), timeout=30)
            code = 0 if finished.return_value == 5 else 3
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's client still works after the fork.
    assert wait_result(tasks.add.enqueue(3, 4), timeout=30).return_value == 7


def test_a_result_is_readable_after_its_tasks_module_is_gone(backend, tmp_path, monkeypatch):
    module = f"vanishing_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from django.tasks import task

            @task
            def short_lived(x):
                return x
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    enqueued = importlib.import_module(module).short_lived.enqueue(1)
    (tmp_path / f"{module}.py").unlink()
    del sys.modules[module]

    result = backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.READY
    assert isinstance(result.task, UnavailableTask)
    assert result.task.module_path == f"{module}.short_lived"
    assert result.args == [1]
    with pytest.raises(Exception, match="no longer imports"):
        result.task.enqueue(2)


def test_a_task_whose_path_no_longer_imports_fails_with_the_reason(backend, worker, tmp_path):
    module = f"gone_{uuid.uuid4().hex[:8]}"
    source = "from django.tasks import task\n\n@task\ndef f():\n    pass\n"
    (tmp_path / f"{module}.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        enqueued = importlib.import_module(module).f.enqueue()
    finally:
        sys.path.remove(str(tmp_path))
        del sys.modules[module]
    result = wait_finished(backend, enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert f"Task path '{module}.f' does not import." in result.errors[0].traceback


@override_settings(USE_TZ=False, TIME_ZONE="Europe/Warsaw")
def test_without_use_tz_every_datetime_is_naive_local_time(temporal_server):
    with override_settings(TASKS=tasks_setting(temporal_server.target_host)):
        backend = task_backends["default"]
        from tests.conftest import ThreadWorker

        worker = ThreadWorker(backend).start()
        try:
            enqueued = tasks.context_info.enqueue()
            assert timezone.is_naive(enqueued.enqueued_at)
            assert abs((timezone.now() - enqueued.enqueued_at).total_seconds()) < 60
            result = wait_result(enqueued, timeout=30)
        finally:
            worker.stop()
    for moment in (result.enqueued_at, result.started_at, result.last_attempted_at,
                   result.finished_at):
        assert moment is not None and timezone.is_naive(moment)
    assert timezone.now() - result.enqueued_at >= result.finished_at - result.enqueued_at
    assert result.finished_at >= result.started_at >= result.enqueued_at


def test_reads_refuse_another_backends_task(backend, temporal_server):
    enqueued = tasks.add.enqueue(1, 1)
    other = tasks_setting(temporal_server.target_host)  # same namespace, another task queue
    with override_settings(TASKS=other):
        stranger = task_backends["default"]
        with pytest.raises(TaskResultDoesNotExist):
            stranger.get_result(enqueued.id)
        with pytest.raises(TaskResultDoesNotExist):
            stranger.cancel(enqueued.id)


def test_a_start_repeated_with_the_same_id_creates_one_task(backend, worker):
    """What `enqueue` does when a start timed out after the server created the workflow."""
    config = backend.config
    enqueued = tasks.add.enqueue(2, 2)
    state_input = backend._run_input(tasks.add, [2, 2], {}, config)

    async def again(client: object) -> None:
        await start_task(client, config, state_input, enqueued.id)  # type: ignore[arg-type]

    temporal.call(config, again)  # while it may still run: the existing run is kept
    assert wait_result(enqueued, timeout=30).return_value == 4
    temporal.call(config, again)  # after it finished: no second run is started

    async def runs(client: object) -> int:
        query = f"WorkflowId = '{enqueued.id}'"
        return (await client.count_workflows(query)).count  # type: ignore[attr-defined]

    asyncio.run(asyncio.sleep(1))  # visibility is eventually consistent
    assert temporal.call(config, runs) == 1


def test_an_unreachable_server_error_says_what_happened():
    with override_settings(TASKS=tasks_setting("127.0.0.1:9", connect_timeout=2)):
        with pytest.raises(TemporalUnavailable, match="refused the connection"):
            tasks.add.enqueue(1, 2)
