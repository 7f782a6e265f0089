"""Every task ends, whatever its payload (issue 10, defects 2 and 3).

Temporal refuses any payload over its blob limit (2 MiB by default). A return value or
an error over it used to fail the workflow task again and again, leaving the task
RUNNING forever; arguments over it surfaced as temporalio's raw RPCError.
"""

from __future__ import annotations

import time

import pytest
from django.tasks import TaskResultStatus

from django_tasks_temporal.exceptions import ArgumentsTooLarge, ResultTooLarge
from django_tasks_temporal.operations import TaskOperations
from django_tasks_temporal.payloads import MAX_TRACEBACK
from tests import tasks
from tests.conftest import wait_finished

LIMIT = 2 * 2**20 - 320 * 1024  # max_payload_size minus the record's reserve


def test_a_return_value_over_the_limit_fails_the_attempt_once(backend, worker):
    started = time.monotonic()
    enqueued = tasks.big_value.enqueue(3_000_000)
    result = wait_finished(backend, enqueued.id, timeout=30)
    assert time.monotonic() - started < 30
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1
    [error] = result.errors
    assert error.exception_class is ResultTooLarge
    assert f"The return value is 3,000,002 bytes as JSON; the limit is {LIMIT:,} bytes" in (
        error.traceback
    )


def test_a_return_value_just_under_the_limit_is_kept(backend, worker):
    enqueued = tasks.big_value.enqueue(LIMIT - 2)
    result = wait_finished(backend, enqueued.id, timeout=30)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert len(result.return_value) == LIMIT - 2


def test_an_exception_message_over_the_limit_fails_with_a_bounded_traceback(backend, worker):
    started = time.monotonic()
    enqueued = tasks.fail_with_big_message.enqueue(3_000_000)
    result = wait_finished(backend, enqueued.id, timeout=30)
    assert time.monotonic() - started < 30
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1
    [error] = result.errors
    assert error.exception_class is tasks.TaskBoom  # the task's own exception, kept
    assert len(error.traceback) < MAX_TRACEBACK + 200
    assert "characters cut: the traceback was" in error.traceback
    assert f"the limit is {MAX_TRACEBACK:,}" in error.traceback
    assert "fail_with_big_message" in error.traceback  # the head: where it was raised
    assert error.traceback.rstrip().endswith("y" * 100)  # the tail: the message's end


@pytest.mark.parametrize(
    "backend_options",
    [{"max_attempts": 12, "retry_initial_interval": 0.05, "retry_maximum_interval": 0.05}],
)
def test_many_failed_attempts_keep_the_record_within_its_budget(backend, worker):
    enqueued = tasks.fail_with_big_message.enqueue(100_000)
    result = wait_finished(backend, enqueued.id, timeout=60)
    assert result.status == TaskResultStatus.FAILED and result.attempts == 12
    assert sum(len(e.traceback) for e in result.errors) <= 256 * 1024
    assert len(result.errors[-1].traceback) > 30_000  # the last attempt keeps its own


def test_arguments_over_the_limit_are_refused_before_anything_exists(backend):
    with pytest.raises(
        ArgumentsTooLarge,
        match=rf"The task's arguments are 2,000,00\d bytes as JSON; the limit is {LIMIT:,} bytes",
    ):
        tasks.echo.enqueue("z" * 2_000_000)
    ops = TaskOperations(backend)
    time.sleep(1)  # visibility is eventually consistent
    assert ops.count(ops.query()) == 0
