"""A Temporal server outage mid-run (issue 10, defect 9).

Attempts that finish while the server is down cannot report; when it is back, their
heartbeats have timed out. That is not a lost worker: the workflow asks the worker that
ran each one, which answers with the real outcome, so nothing runs twice and no live
worker is blamed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

from django_tasks_temporal.devserver import free_port, start_dev_server
from django_tasks_temporal.payloads import RECOVER_ACTIVITY
from tests import tasks
from tests.conftest import (
    SUMMARY,
    ThreadWorker,
    history_events,
    tasks_setting,
    wait_finished,
    wait_for,
)

OUTAGE_SECONDS = 10


@pytest.mark.slow
def test_a_server_outage_mid_run_loses_nothing_and_blames_no_worker(tmp_path):
    port = free_port()
    db = str(tmp_path / "temporal.db")
    server = start_dev_server(port=port, db_filename=db)
    try:
        with override_settings(TASKS=tasks_setting(server.target_host)):
            backend = task_backends["default"]
            worker = ThreadWorker(backend, max_concurrent_activities=20).start()
            try:
                starts = [tmp_path / f"starts-{i}" for i in range(12)]
                # Bodies of 1-6.5 s: some end during the outage, some after it.
                ids = [
                    tasks.record_start_and_sleep.enqueue(str(path), 1 + 0.5 * i).id
                    for i, path in enumerate(starts)
                ]
                wait_for(lambda: all(p.exists() for p in starts), timeout=30)
                server.stop()
                time.sleep(OUTAGE_SECONDS)
                server = start_dev_server(port=port, db_filename=db)
                results = [wait_finished(backend, i, timeout=120) for i in ids]
                recovered = sum(map(was_recovered, (history_events(backend, i) for i in ids)))
            finally:
                worker.stop()
    finally:
        server.stop()
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * len(ids)
    assert [p.read_text().count("\n") for p in starts] == [1] * len(ids)  # each ran once
    assert [r.errors for r in results] == [[]] * len(ids)  # nobody blamed
    assert all(r.worker_ids == [worker.config.identity] for r in results)
    SUMMARY.append(
        f"outage: {OUTAGE_SECONDS} s with {len(ids)} tasks running; {recovered} outcomes "
        "came from the worker when asked (their heartbeats had timed out), 0 ran twice"
    )


def was_recovered(events: list[Any]) -> bool:
    return any(
        e.activity_task_scheduled_event_attributes.activity_type.name == RECOVER_ACTIVITY
        for e in events
    )
