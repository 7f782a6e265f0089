"""Live progress of long tasks (issue 15): reported from inside, read while running and after."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from django.tasks import TaskResultStatus
from django.test import override_settings

from django_tasks_temporal import TemporalTaskResult, report_progress
from django_tasks_temporal.progress import TaskProgress
from tests import tasks
from tests.conftest import history_events, wait_finished, wait_for
from tests.test_api import Api, api, certs  # noqa: F401  (fixtures)


def test_a_task_reporting_steps_shows_increasing_progress_and_keeps_the_last(
    backend, worker, api: Api  # noqa: F811
):
    enqueued = tasks.report_steps.enqueue(10, 0.6)
    seen_python: list[int] = []
    seen_api: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = backend.get_result(enqueued.id)
        if result.is_finished:
            break
        if result.progress is not None:
            seen_python.append(result.progress.done)
        body = api.get(f"status/{enqueued.id}/").json()
        if body["progress"] is not None:
            seen_api.append(body["progress"]["done"])
        time.sleep(0.3)
    for seen in (seen_python, seen_api):
        assert len(set(seen)) >= 3, seen  # several values while it ran...
        assert seen == sorted(seen)  # ...never going back
        assert seen[0] < 10
    final = wait_finished(backend, enqueued.id)
    assert isinstance(final, TemporalTaskResult)
    assert final.status == TaskResultStatus.SUCCESSFUL
    assert final.progress is not None
    assert (final.progress.done, final.progress.total, final.progress.fraction) == (10, 10, 1.0)
    assert final.progress.message == "step 10"
    body = api.get(f"status/{enqueued.id}/").json()
    assert body["progress"]["done"] == 10 and body["progress"]["message"] == "step 10"
    enqueued.refresh()
    assert enqueued.progress == final.progress


def test_reports_cost_no_history_events(backend, worker):
    reporting = tasks.report_a_lot.enqueue(300, 2.0)
    silent = tasks.sleep.enqueue(2.0)
    for r in (reporting, silent):
        wait_finished(backend, r.id)
    assert len(history_events(backend, reporting.id)) == len(history_events(backend, silent.id))


# The tests' heartbeat_timeout of 2 s would beat every 0.67 s to show the attempt alive.
@pytest.mark.parametrize("backend_options", [{"heartbeat_timeout": 10}])
def test_a_thousand_reports_reach_the_server_at_most_once_a_second(
    backend, worker, monkeypatch
):
    import temporalio.activity

    sent: list[tuple[float, Any]] = []
    original = temporalio.activity.heartbeat

    def heartbeat(*details: Any) -> None:
        if details:
            sent.append((time.monotonic(), details[0]))
        original(*details)

    monkeypatch.setattr(temporalio.activity, "heartbeat", heartbeat)
    started = time.monotonic()
    enqueued = tasks.report_a_lot.enqueue(1000, 3.0)
    result = wait_finished(backend, enqueued.id)
    elapsed = time.monotonic() - started
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert 1 <= len(sent) <= elapsed + 1
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(sent)]
    assert all(gap >= 0.9 for gap in gaps), gaps


def test_an_async_task_reports_progress(backend, worker):
    enqueued = tasks.report_async.enqueue(6)
    wait_for(lambda: (p := backend.get_result(enqueued.id).progress) is not None and p.done, 30)
    result = wait_finished(backend, enqueued.id)
    assert result.progress is not None and result.progress.done == 6


def test_progress_outside_a_worker_is_a_no_op_and_bad_values_are_refused():
    report_progress(0.5, message="nobody listens")  # no worker: nothing happens
    with override_settings(
        TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ):
        assert tasks.report_steps.enqueue(2, 0).return_value == "reported"
    for kwargs, message in [
        ({"fraction": 1.5}, "fraction must be a number from 0 to 1"),
        ({"fraction": float("nan")}, "fraction must be a number from 0 to 1"),
        ({"done": -1}, "done must be a whole number >= 0"),
        ({"done": 3, "total": 2}, "done must not exceed total"),
        ({"message": 7}, "message must be a string"),
    ]:
        with pytest.raises(ValueError, match=message):
            report_progress(**kwargs)


def test_progress_dataclass_is_public():
    assert TaskProgress.from_record(None) is None
