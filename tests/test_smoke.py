from __future__ import annotations

from django.tasks import TaskResultStatus

from tests import tasks
from tests.conftest import wait_finished


def test_add(backend, worker):
    result = tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    done = wait_finished(backend, result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert len(done.worker_ids) == 1


def test_fail(backend, worker):
    result = tasks.fail.enqueue("nope")
    done = wait_finished(backend, result.id)
    assert done.status == TaskResultStatus.FAILED
    assert done.errors[0].exception_class is tasks.TaskBoom
    print(done.errors[0].traceback)
