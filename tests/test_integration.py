"""Signals, system checks and database connections, as a Django project sees them."""

from __future__ import annotations

import threading

import pytest
from django.core import checks
from django.tasks import TaskResultStatus, task_backends
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.test import override_settings

from tests import tasks
from tests.conftest import tasks_setting, wait_finished, wait_for


def test_signals_are_sent_for_enqueue_start_and_finish(backend, worker):
    seen: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def receiver(name):
        def receive(sender, task_result, **kwargs):
            with lock:
                seen.append((name, task_result.id, task_result.status))

        return receive

    receivers = {
        task_enqueued: receiver("enqueued"),
        task_started: receiver("started"),
        task_finished: receiver("finished"),
    }
    for signal, receive in receivers.items():
        signal.connect(receive)
    try:
        ok = tasks.add.enqueue(1, 2)
        bad = tasks.fail.enqueue()
        wait_finished(backend, ok.id)
        wait_finished(backend, bad.id)
        wait_for(lambda: len(seen) == 6)
    finally:
        for signal, receive in receivers.items():
            signal.disconnect(receive)
    assert ("enqueued", ok.id, TaskResultStatus.READY) in seen
    assert ("started", ok.id, TaskResultStatus.RUNNING) in seen
    assert ("finished", ok.id, TaskResultStatus.SUCCESSFUL) in seen
    assert ("finished", bad.id, TaskResultStatus.FAILED) in seen


def test_worker_logs_each_task_like_django(backend, worker, caplog):
    caplog.set_level("INFO", logger="django.tasks")
    result = wait_finished(backend, tasks.fail.enqueue().id)
    wait_for(lambda: "state=FAILED" in caplog.text)
    assert f"Task id={result.id} path=tests.tasks.fail state=RUNNING" in caplog.text
    assert f"Task id={result.id} path=tests.tasks.fail state=FAILED" in caplog.text
    assert "tests.tasks.TaskBoom: boom" in caplog.text  # the traceback is logged


@pytest.mark.parametrize(
    "options, expected_id, fragment",
    [
        ({"target_host": ""}, "E003", "target_host"),
        ({"namespace": 3}, "E004", "namespace"),
        ({"task_queue": ""}, "E005", "task_queue"),
        ({"max_concurrent_activities": 0}, "E006", "max_concurrent_activities"),
        ({"max_concurrent_workflow_tasks": 1}, "E016", "max_concurrent_workflow_tasks"),
        ({"tls": "yes"}, "E007", "tls"),
        ({"api_key": ""}, "E007", "api_key"),
        ({"connect_timeout": -1}, "E008", "connect_timeout"),
        ({"max_attempts": 0}, "E009", "max_attempts"),
        ({"max_attempts": True}, "E009", "max_attempts"),
        ({"retry_backoff_coefficient": 0.5}, "E010", "retry_backoff_coefficient"),
        ({"timeout": 0}, "E011", "timeout"),
        ({"heartbeat_timeout": "10"}, "E012", "heartbeat_timeout"),
        ({"priority_levels": 0}, "E013", "priority_levels"),
        ({"max_payload_size": 1000}, "E017", "max_payload_size"),
        ({"trigger_queues": "emails"}, "E014", "trigger_queues"),
        ({"shutdown_timeout": float("inf")}, "E015", "shutdown_timeout"),
        ({"metrics_bind": "localhost"}, "E024", "metrics_bind"),
        ({"metrics_bind": 9464}, "E024", "metrics_bind"),
        ({"tracing": "yes"}, "E025", "tracing"),
        ({"colour": "blue"}, "E002", "colour"),
    ],
)
def test_bad_options_are_reported_by_system_checks(options, expected_id, fragment):
    setting = tasks_setting("127.0.0.1:7233")
    setting["default"]["OPTIONS"].update(options)
    with override_settings(TASKS=setting):
        errors = checks.run_checks()
        ours = [e for e in errors if e.id.startswith("django_tasks_temporal.")]
        assert [e.id for e in ours] == [f"django_tasks_temporal.{expected_id}"]
        assert fragment in ours[0].msg and ours[0].hint


def test_missing_target_host_is_reported():
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks_temporal.TemporalTaskBackend"}}
    ):
        ids = [e.id for e in checks.run_checks()]
        assert "django_tasks_temporal.E003" in ids


def test_good_options_pass_the_checks(temporal_server):
    with override_settings(TASKS=tasks_setting(temporal_server.target_host, tls=None)):
        assert not [e for e in checks.run_checks() if e.id.startswith("django_tasks")]
        assert task_backends["default"].config.tls is None


@pytest.mark.django_db(transaction=True)
def test_tasks_use_the_database_with_fresh_connections(backend, worker, django_user_model):
    django_user_model.objects.create(username="ada")
    result = wait_finished(backend, tasks.count_users.enqueue().id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend_options", [{"max_concurrent_activities": 1}])
def test_connections_are_closed_after_each_task(backend, worker):
    # One thread runs both tasks; with CONN_MAX_AGE=0 the first task's connection must
    # be closed after it, as at the end of a request.
    first = wait_finished(backend, tasks.connection_state.enqueue().id)
    second = wait_finished(backend, tasks.connection_state.enqueue().id)
    assert first.return_value == {"was_closed": True}
    assert second.return_value == {"was_closed": True}
