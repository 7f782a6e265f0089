"""Any Temporal server works with no set-up (issue 11, item 1).

`temporal server start-dev` with no flags has none of this backend's search attributes:
they are registered on first need, by an enqueue before any worker ran, or by a query.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

from django_tasks_temporal import wait_result
from django_tasks_temporal.devserver import DevServer, start_dev_server
from django_tasks_temporal.operations import TaskOperations
from tests import tasks
from tests.conftest import ThreadWorker, tasks_setting, wait_for


@pytest.fixture
def plain_server() -> Iterator[DevServer]:
    server = start_dev_server(search_attributes=False, dynamic_config={})
    try:
        yield server
    finally:
        server.stop()


def test_enqueue_before_any_worker_on_a_plain_server(plain_server):
    with override_settings(TASKS=tasks_setting(plain_server.target_host)):
        backend = task_backends["default"]
        enqueued = tasks.add.enqueue(20, 22)  # registers the search attributes
        assert backend.get_result(enqueued.id).status == TaskResultStatus.READY
        worker = ThreadWorker(backend).start()
        try:
            assert wait_result(enqueued, timeout=30).return_value == 42
        finally:
            worker.stop()


def test_the_task_list_works_on_a_plain_server(plain_server):
    with override_settings(TASKS=tasks_setting(plain_server.target_host)):
        ops = TaskOperations(task_backends["default"])
        assert ops.count(ops.query()) == 0  # registers the search attributes
        tasks.add.enqueue(1, 1)
        wait_for(lambda: ops.count(ops.query()) == 1, timeout=30, interval=0.2)
