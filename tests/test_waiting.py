"""wait_result() / await_result(): one long poll until the task finishes."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings

from django_tasks_temporal import await_result, wait_result
from tests import tasks


def test_wait_returns_the_finished_result_right_after_it_finishes(backend, worker):
    result = tasks.sleep_then_return.enqueue(1.0, "done")
    finished = wait_result(result, timeout=30)
    returned_at = time.time()
    assert finished.status == TaskResultStatus.SUCCESSFUL
    assert finished.return_value == "done"
    assert finished.finished_at is not None
    # The long poll answers when the close event is written, not on a poll interval:
    # within 100 ms of the function's end (about 20 ms here).
    assert returned_at - finished.finished_at.timestamp() < 0.1


def test_wait_times_out_with_a_clear_error(backend):
    result = tasks.noop.enqueue()  # no worker: it never finishes
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"Task '{result.id}' did not finish within 0.5s"):
        wait_result(result, timeout=0.5)
    assert time.monotonic() - started < 3


def test_wait_for_an_unknown_task(backend):
    with pytest.raises(TaskResultDoesNotExist):
        backend.wait_result("no-such-task", timeout=5)


def test_await_result(backend, worker):
    async def run() -> None:
        result = await tasks.add.aenqueue(2, 3)
        finished = await await_result(result, timeout=30)
        assert finished.status == TaskResultStatus.SUCCESSFUL
        assert finished.return_value == 5

    asyncio.run(run())


@override_settings(
    TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
)
def test_wait_on_django_immediate_backend_returns_at_once():
    result = tasks.add.enqueue(1, 2)
    assert wait_result(result, timeout=1).return_value == 3
