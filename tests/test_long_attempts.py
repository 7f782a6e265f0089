"""An attempt's length does not depend on one workflow task (issue 10, defect 1).

Temporal stops renewing one workflow task after `history.workflowTaskHeartbeatTimeout`
(30 min by default; 12 s on this test's server). An attempt that lived inside a workflow
task (a local activity) ran again, overlapping itself, once it outlived that limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

from django_tasks_temporal.devserver import (
    BATCH_DYNAMIC_CONFIG,
    STRICT_PRIORITY_DYNAMIC_CONFIG,
    DevServer,
    start_dev_server,
)
from tests import tasks
from tests.conftest import ThreadWorker, history_events, tasks_setting, wait_finished


@pytest.fixture(scope="module")
def short_workflow_tasks_server() -> Iterator[DevServer]:
    server = start_dev_server(
        dynamic_config={
            **STRICT_PRIORITY_DYNAMIC_CONFIG,
            **BATCH_DYNAMIC_CONFIG,
            "history.workflowTaskHeartbeatTimeout": '"12s"',
        }
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_task_longer_than_the_servers_workflow_task_limit_runs_once(
    short_workflow_tasks_server, tmp_path
):
    starts = tmp_path / "starts"
    with override_settings(TASKS=tasks_setting(short_workflow_tasks_server.target_host)):
        backend = task_backends["default"]
        worker = ThreadWorker(backend).start()
        try:
            enqueued = tasks.record_start_and_sleep.enqueue(str(starts), 25)
            result = wait_finished(backend, enqueued.id, timeout=90)
            events = history_events(backend, enqueued.id)
        finally:
            worker.stop()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert starts.read_text().count("\n") == 1  # the body ran exactly once
    assert result.attempts == 1 and result.errors == []
    # Heartbeats are not history events: 11, as for a task of a millisecond.
    assert len(events) <= 15, [e.event_type for e in events]
