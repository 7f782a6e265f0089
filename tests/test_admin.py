"""The admin pages with Django's test client, on a real Temporal server: who may see and do
what, filters and paging, refusals, the Temporal-down page, and the list's server time."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.tasks import TaskResultStatus
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_tasks_temporal.admin import TaskAdmin
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.devserver import DevServer, free_port, start_dev_server
from django_tasks_temporal.operations import TaskOperations
from tests import tasks
from tests.conftest import ROOT, SUMMARY, tasks_setting, wait_finished, wait_for

pytestmark = pytest.mark.django_db

GATED = "nightly"
LIST = "admin:django_tasks_temporal_task_changelist"
ACTION = "admin:django_tasks_temporal_task_action"
PURGE = "admin:django_tasks_temporal_task_purge"
ALL_PERMISSIONS = ("view_task", "run_task", "cancel_task", "purge_task")


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"trigger_queues": [GATED]}


@pytest.fixture
def ops(backend: TemporalTaskBackend) -> TaskOperations:
    return TaskOperations(backend)


def staff_client(username: str, *codenames: str, staff: bool = True) -> Client:
    """A logged-in client whose user holds `codenames` through a group, as sites grant them."""
    user = User.objects.create_user(username, password="pw", is_staff=staff)
    if codenames:
        group = Group.objects.create(name=f"{username} group")
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_tasks_temporal", codename__in=codenames
            )
        )
        user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return staff_client("operator", *ALL_PERMISSIONS)


def detail(task_id: str) -> str:
    return reverse("admin:django_tasks_temporal_task_change", args=[task_id])


def visible(ops: TaskOperations, count: int, timeout: float = 30, **filters: Any) -> None:
    """Wait until visibility (eventually consistent) lists `count` tasks."""
    wait_for(lambda: ops.count(ops.query(**filters)) == count, timeout=timeout)


def text(response: Any) -> str:
    return response.content.decode()


def field(page: str, name: str) -> str:
    """A field of a task's page, as rendered."""
    match = re.search(rf'<td id="field-{name}">(.*?)</td>', page, re.S)
    assert match, f"no field {name!r}"
    return match.group(1).strip()


# The admin package's modules, each importing only modules after it (never in a circle).
LAYERS = ["__init__", "task_admin", "schedule_admin", "section_admin", "views", "schedule_views",
          "actions", "schedule_actions", "listing", "runs", "detail", "attempts", "forms",
          "schedule_forms", "pages"]


def test_admin_modules_import_one_way_and_never_temporalio() -> None:
    package = ROOT / "src" / "django_tasks_temporal" / "admin"
    assert sorted(p.stem for p in package.glob("*.py")) == sorted(LAYERS)
    for module in LAYERS:
        tree = ast.parse((package / f"{module}.py").read_text())
        imported = {
            name
            for node in ast.walk(tree)
            for name in (
                [node.module or ""] if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            )
        }
        imported |= {  # `from django_tasks_temporal.admin import views`
            f"django_tasks_temporal.admin.{a.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "django_tasks_temporal.admin"
            for a in node.names
        }
        siblings = {n.rsplit(".", 1)[1] for n in imported
                    if n.startswith("django_tasks_temporal.admin.")}
        below = set(LAYERS[LAYERS.index(module) + 1:])
        assert siblings <= below, f"admin/{module}.py imports {sorted(siblings - below)}"
        assert not any(n.split(".")[0] in ("temporalio", "grpc") for n in imported), module


def test_permissions_exist_and_no_table_is_created() -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="django_tasks_temporal",
                                  content_type__model="task")
        .values_list("codename", flat=True)
    )
    assert codenames == set(ALL_PERMISSIONS)
    assert "django_tasks_temporal_task_unmanaged" not in connection.introspection.table_names()


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(backend: Any) -> None:
    url = reverse(LIST)
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    member = staff_client("member", *ALL_PERMISSIONS, staff=False)
    for target in (url, detail("x"), reverse(ACTION), reverse(PURGE)):
        response = member.get(target)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_view_permission_is_refused(backend: Any) -> None:
    client = staff_client("nobody")
    for url in (reverse(LIST), detail("x"), reverse(ACTION) + "?action=run&_selected_action=x",
                reverse(PURGE)):
        assert client.get(url).status_code == 403
    assert "Temporal tasks" not in text(client.get(reverse("admin:index")))


def test_view_only_staff_sees_tasks_but_cannot_act(
    backend: TemporalTaskBackend, ops: TaskOperations
) -> None:
    waiting = tasks.add.using(queue_name=GATED).enqueue(1, 2)
    visible(ops, 1)
    client = staff_client("viewer", "view_task")
    page = text(client.get(reverse(LIST)))
    assert waiting.id in page
    assert 'id="action-toggle"' not in page and "Purge finished tasks" not in page
    page = text(client.get(detail(waiting.id)))
    assert "waiting for a trigger" in page and 'id="action-run"' not in page
    confirm = reverse(ACTION) + f"?action=run&_selected_action={waiting.id}"
    assert client.get(confirm).status_code == 403
    post = {"action": "run", "_selected_action": waiting.id, "post": "yes"}
    assert client.post(reverse(ACTION), post).status_code == 403
    assert client.get(reverse(PURGE)).status_code == 403
    assert client.post(reverse(PURGE), {"days": 0, "post": "yes"}).status_code == 403
    assert ops.get(waiting.id).waiting_for_trigger  # nothing was released
    # run_task alone does not allow cancel or purge
    runner = staff_client("runner", "view_task", "run_task")
    post = {"action": "cancel", "_selected_action": waiting.id, "post": "yes"}
    assert runner.post(reverse(ACTION), post).status_code == 403
    assert runner.get(reverse(PURGE)).status_code == 403
    assert runner.get(confirm).status_code == 200


def test_list_shows_true_statuses_counts_filters_and_search(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any
) -> None:
    ok = tasks.add.enqueue(1, 2)
    bad = tasks.fail.enqueue("nope")
    wait_finished(backend, ok.id)
    wait_finished(backend, bad.id)
    waiting = tasks.echo.using(queue_name=GATED, priority=7).enqueue("x")
    later = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(3, 4)
    visible(ops, 4)
    page = text(operator.get(reverse(LIST)))
    for task_id in (ok.id, bad.id, waiting.id, later.id):
        assert task_id in page
    assert "4 tasks" in page
    for count in ("Open (READY or RUNNING) (2)", "Waiting for a trigger (1)",
                  "Successful (1)", "Failed (1)"):
        assert count in page
    assert "status-SUCCESSFUL" in page and "status-FAILED" in page and "TaskBoom" in page
    assert "waiting for a trigger" in page and "runs after" in page

    def ids(**params: str) -> set[str]:
        response = operator.get(reverse(LIST), params)
        assert response.status_code == 200
        return {t.row.id for t in response.context["listing"].tasks}

    assert ids(status="FAILED") == {bad.id}
    assert ids(status="SUCCESSFUL") == {ok.id}
    assert ids(status="open") == {waiting.id, later.id}
    assert ids(status="waiting") == {waiting.id}
    assert ids(queue=GATED) == {waiting.id}
    assert ids(task="tests.tasks.add") == {ok.id, later.id}
    assert ids(task="tests.tasks.add", status="open") == {later.id}
    assert ids(q=bad.id) == {bad.id}
    assert ids(q="no-such-id") == set()
    response = operator.get(reverse(LIST), {"status": "bogus"})
    assert response.status_code == 200 and "Select a valid choice" in text(response)


def test_paging_follows_visibility_page_tokens(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaskAdmin, "list_per_page", 2)
    enqueued = {tasks.add.using(queue_name=GATED).enqueue(i, i).id for i in range(5)}
    visible(ops, 5)
    seen: list[str] = []
    url: str | None = reverse(LIST)
    pages = 0
    while url:
        response = operator.get(url)
        rows = response.context["listing"].tasks
        assert len(rows) <= 2
        seen += [t.row.id for t in rows]
        pages += 1
        next_page = response.context["next_page"]
        url = next_page and reverse(LIST) + next_page
    assert pages == 3 and len(seen) == 5 and set(seen) == enqueued
    response = operator.get(reverse(LIST), {"page_token": "not base64!"})
    assert response.status_code == 200
    assert "page link is broken" in text(response)
    assert len(response.context["listing"].tasks) == 2


def test_detail_shows_arguments_errors_workers_and_the_temporal_ui_link(
    backend: TemporalTaskBackend, operator: Client, worker: Any
) -> None:
    bad = tasks.fail.enqueue("a readable message")
    wait_finished(backend, bad.id)
    page = text(operator.get(detail(bad.id)))
    assert "tests.tasks.TaskBoom" in page and "Traceback (most recent call last)" in page
    assert "a readable message" in page
    assert worker.config.identity in page
    assert "temporal-ui-link" not in page
    assert 'id="action-retry"' in page and 'id="action-run"' not in page
    with override_settings(TASKS_ADMIN_TEMPORAL_UI_URL="http://temporal-ui:8233/"):
        page = text(operator.get(detail(bad.id)))
    assert f'href="http://temporal-ui:8233/namespaces/default/workflows/{bad.id}"' in page
    ok = tasks.echo.enqueue(1, "two", flag=True)
    wait_finished(backend, ok.id)
    response = operator.get(detail(ok.id))
    assert "&quot;flag&quot;: true" in text(response)
    return_value = json.loads(response.context["return_json"])
    assert return_value == {"args": [1, "two"], "kwargs": {"flag": True}}
    response = operator.get(detail("no-such-task"), follow=True)
    assert "does not exist" in text(response)


def test_actions_ask_first_then_act_and_report(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any
) -> None:
    waiting = tasks.add.using(queue_name=GATED).enqueue(2, 3)
    done = tasks.add.enqueue(1, 1)
    failed = tasks.fail.enqueue()
    later = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(0, 0)
    for result in (done, failed):
        wait_finished(backend, result.id)
    # The confirmation page changes nothing.
    confirm = operator.get(reverse(ACTION), {"action": "run", "_selected_action": waiting.id})
    assert "Are you sure you want to run the selected task now?" in text(confirm)
    assert ops.get(waiting.id).waiting_for_trigger
    # Run now, from the list's action bar: the finished task is refused with a warning.
    selected = {"action": "run", "_selected_action": [waiting.id, done.id]}
    confirm = operator.post(reverse(ACTION), selected)
    assert confirm.status_code == 200 and "skipped: it has finished (SUCCESSFUL)" in text(confirm)
    response = operator.post(reverse(ACTION), {**selected, "post": "yes"}, follow=True)
    page = text(response)
    assert f"Task “{waiting.id}” was released to run now." in page
    assert f"Task “{done.id}” was not changed: it has finished (SUCCESSFUL)." in page
    assert wait_finished(backend, waiting.id).return_value == 5
    # Nothing applies: a warning straight away, no confirmation.
    response = operator.get(reverse(ACTION), {"action": "run", "_selected_action": done.id},
                            follow=True)
    assert response.status_code == 200 and "was not changed: it has finished" in text(response)
    # Retry a failed task; retry refuses a successful one.
    response = operator.post(reverse(ACTION), {"action": "retry", "post": "yes",
                             "_selected_action": [failed.id, done.id]}, follow=True)
    assert f"Task “{failed.id}” runs again under the same id." in text(response)
    assert "only a FAILED task is retried" in text(response)
    wait_for(lambda: len(ops.get(failed.id).errors) == 2)
    visible(ops, 2, task_id=failed.id)  # two runs under one id: the list shows one task
    response = operator.get(reverse(LIST), {"q": failed.id})
    assert [t.row.id for t in response.context["listing"].tasks] == [failed.id]
    assert response.context["result_count"] == 1  # and counts one task, not two runs
    assert "1 task<" in text(response) and "0 of 1 selected" in text(response)
    # Cancel a delayed task; cancelling a finished one is refused.
    response = operator.post(reverse(ACTION), {"action": "cancel", "post": "yes",
                             "_selected_action": [later.id, done.id]}, follow=True)
    assert f"Task “{later.id}” was asked to cancel" in text(response)
    assert f"Task “{done.id}” was not changed" in text(response)
    final = wait_finished(backend, later.id)
    assert final.status == TaskResultStatus.FAILED
    assert final.errors[-1].exception_class_path.endswith("TaskCancelled")
    # Cancelled while it waited for its run_after: it no longer "runs after" anything,
    # and its page agrees with itself: no attempt ran, and the cancel is its outcome.
    listed = text(operator.get(reverse(LIST), {"q": later.id}))
    assert "status-FAILED" in listed and "runs after" not in listed
    page = text(operator.get(detail(later.id)))
    assert field(page, "attempts") == "0"
    assert "No attempt ran." in page and "(not known yet)" not in page
    assert "TaskCancelled" in page.split('id="task-error"')[1]
    # Unknown ids and nothing selected are reported, not 500s.
    response = operator.post(reverse(ACTION), {"action": "cancel", "post": "yes",
                             "_selected_action": "no-such-task"}, follow=True)
    assert "it no longer exists" in text(response)
    response = operator.post(reverse(ACTION), {"action": "cancel"}, follow=True)
    assert "Tasks must be selected" in text(response)
    response = operator.post(reverse(ACTION), {"_selected_action": done.id}, follow=True)
    assert "No action selected." in text(response)


def test_a_retried_task_is_one_task_in_the_counts_and_the_lists(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any,
    tmp_path: Path,
) -> None:
    """Visibility lists every run; a retry is a new run under the task's id."""
    gate = tmp_path / "gate"
    flaky = tasks.fail_unless_exists.enqueue(str(gate))
    failed = tasks.fail.enqueue()
    for result in (flaky, failed):
        wait_finished(backend, result.id)
    gate.touch()
    operator.post(reverse(ACTION), {"action": "retry", "post": "yes",
                  "_selected_action": flaky.id})
    assert wait_finished(backend, flaky.id).status == TaskResultStatus.SUCCESSFUL
    visible(ops, 3)  # three runs of two tasks
    response = operator.get(reverse(LIST))
    page = text(response)
    assert response.context["result_count"] == 2
    assert "2 tasks<" in page and "0 of 2 selected" in page
    assert "Successful (1)" in page and "Failed (1)" in page
    [listed] = [t for t in response.context["listing"].tasks if t.row.id == flaky.id]
    assert listed.enqueued_at == flaky.enqueued_at  # when it was enqueued, not retried
    response = operator.get(reverse(LIST), {"status": "FAILED"})
    assert [t.row.id for t in response.context["listing"].tasks] == [failed.id]
    assert response.context["result_count"] == 1


@pytest.mark.parametrize("backend_options", [{"retry_initial_interval": 0.1}])
def test_a_task_that_succeeded_after_retries_shows_their_errors_as_history(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any,
    tmp_path: Path,
) -> None:
    result = tasks.fail_twice_then_succeed.enqueue(str(tmp_path))
    final = wait_finished(backend, result.id)
    assert final.status == TaskResultStatus.SUCCESSFUL and len(final.errors) == 2
    visible(ops, 1)
    listed = text(operator.get(reverse(LIST)))
    assert "status-SUCCESSFUL" in listed and "after 2 failed attempts" in listed
    assert "TaskBoom" not in listed  # not an outcome next to SUCCESSFUL
    page = text(operator.get(detail(result.id)))
    assert field(page, "attempts") == "3"
    assert 'id="task-error"' not in page  # the task has no error: it succeeded
    history = page.split('id="task-earlier-errors"')[1]
    assert "Errors of earlier attempts" in history
    assert "Attempt 1: tests.tasks.TaskBoom" in history
    assert "Attempt 2: tests.tasks.TaskBoom" in history
    assert "TaskBoom: attempt 2" in history  # with its traceback


def test_run_now_keeps_run_after_unless_asked(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any
) -> None:
    later = timezone.now() + timedelta(hours=1)
    kept = tasks.add.using(queue_name=GATED, run_after=later).enqueue(1, 1)
    forced = tasks.add.using(queue_name=GATED, run_after=later).enqueue(2, 2)
    confirm = operator.get(reverse(ACTION), {"action": "run", "_selected_action": kept.id})
    assert 'name="force"' in text(confirm)
    response = operator.post(reverse(ACTION), {"action": "run", "post": "yes",
                             "_selected_action": kept.id}, follow=True)
    assert "still waits for its run_after" in text(response)
    operator.post(reverse(ACTION), {"action": "run", "post": "yes", "force": "on",
                  "_selected_action": forced.id})
    assert wait_finished(backend, forced.id).return_value == 4
    summary = ops.get(kept.id)
    assert summary.status == TaskResultStatus.READY and not summary.waiting_for_trigger


def test_purge_confirms_with_the_count_then_purges(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any
) -> None:
    finished = [tasks.add.enqueue(i, i) for i in range(2)]
    for result in finished:
        wait_finished(backend, result.id)
    waiting = tasks.add.using(queue_name=GATED).enqueue(0, 0)
    visible(ops, 3)
    form = operator.get(reverse(PURGE))
    assert form.status_code == 200 and 'name="days"' in text(form)
    assert "Ensure this value is greater than or equal to 0" in text(
        operator.post(reverse(PURGE), {"days": -1}))
    nothing = operator.post(reverse(PURGE), {"days": 1})
    assert "No finished task matches" in text(nothing)
    confirm = operator.post(reverse(PURGE), {"days": 0, "statuses": ["SUCCESSFUL"]})
    assert "Are you sure you want to delete the 2 tasks" in text(confirm)
    assert ops.count(ops.query()) == 3  # the confirmation deleted nothing
    response = operator.post(reverse(PURGE), {"days": 0, "statuses": ["SUCCESSFUL"],
                             "post": "yes"}, follow=True)
    assert "Purging 2 finished tasks (Temporal batch job" in text(response)
    visible(ops, 1, timeout=90)  # Temporal deletes in the background (30 s+ seen here)
    assert ops.get(waiting.id).status == TaskResultStatus.READY


def test_an_unreachable_temporal_server_is_a_page_naming_it(operator: Client) -> None:
    target = f"127.0.0.1:{free_port()}"
    with override_settings(TASKS=tasks_setting(target, connect_timeout=1)):
        for url in (reverse(LIST), detail("some-task"),
                    reverse(ACTION) + "?action=cancel&_selected_action=x"):
            started = time.monotonic()
            response = operator.get(url)
            assert time.monotonic() - started < 5
            assert response.status_code == 503
            assert f"The Temporal server at &#x27;{target}&#x27;" in text(response)


@pytest.mark.slow
def test_a_temporal_server_that_goes_away_is_a_page_within_the_connect_timeout(
    operator: Client,
) -> None:
    """Already connected, then the server stops: reads give up after `connect_timeout`."""
    server = start_dev_server()
    try:
        with override_settings(TASKS=tasks_setting(server.target_host, connect_timeout=2)):
            wait_for(lambda: operator.get(reverse(LIST)).status_code == 200, timeout=30)
            server.stop()
            started = time.monotonic()
            response = operator.get(reverse(LIST))
            elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert response.status_code == 503
    assert f"The Temporal server at &#x27;{server.target_host}&#x27;" in text(response)
    print(f"\nTemporal gone: the task list answered 503 in {elapsed:.1f}s")
    assert elapsed < 6, f"the page took {elapsed:.1f}s"


def test_invalid_options_and_missing_backends_are_pages_not_errors(
    temporal_server: DevServer, operator: Client
) -> None:
    with override_settings(TASKS=tasks_setting(temporal_server.target_host, max_attempts=0)):
        response = operator.get(reverse(LIST))
    assert response.status_code == 503 and "max_attempts" in text(response)
    dummy = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    with override_settings(TASKS=dummy):
        response = operator.get(reverse(LIST))
    assert response.status_code == 404 and "has no Temporal backend" in text(response)


def test_one_section_per_temporal_backend(
    temporal_server: DevServer, operator: Client
) -> None:
    setting = {
        **tasks_setting(temporal_server.target_host),
        "other": tasks_setting(temporal_server.target_host)["default"],
        "dummy": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},
    }
    with override_settings(TASKS=setting):
        mine = tasks.add.enqueue(1, 1)
        theirs = tasks.add.using(backend="other").enqueue(2, 2)
        from django.tasks import task_backends

        for alias, count in (("default", 1), ("other", 1)):
            backend = task_backends[alias]
            assert isinstance(backend, TemporalTaskBackend)
            visible(TaskOperations(backend), count)
        response = operator.get(reverse(LIST))
        sections = [c.display for name, choices in response.context["filters"]
                    if name == "backend" for c in choices]
        assert sections == ["default", "other"]
        assert mine.id in text(response) and theirs.id not in text(response)
        response = operator.get(reverse(LIST), {"backend": "other"})
        assert theirs.id in text(response) and mine.id not in text(response)
        assert operator.get(detail(theirs.id), {"backend": "other"}).status_code == 200
        assert operator.get(reverse(LIST), {"backend": "dummy"}).status_code == 404


@pytest.mark.slow
def test_the_list_of_1000_tasks_opens_in_under_a_second(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1,000 open tasks (no worker: reading an open task also needs a `describe`)."""

    async def enqueue_all() -> None:
        semaphore = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            async with semaphore:
                await tasks.add.aenqueue(i, i)

        await asyncio.gather(*(one(i) for i in range(1000)))

    asyncio.run(enqueue_all())
    visible(ops, 1000)
    caplog.set_level(logging.DEBUG, logger="django_tasks_temporal.admin")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = operator.get(reverse(LIST))
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
        assert len(response.context["listing"].tasks) == TaskAdmin.list_per_page
    assert "1000 tasks" in text(response)
    SUMMARY.append(
        f"admin: task list of 1,000 open tasks, {TaskAdmin.list_per_page} per page, server "
        f"time {', '.join(f'{t * 1000:.0f}' for t in times)} ms "
        f"(median {statistics.median(times) * 1000:.0f} ms; the bar is 1 s)"
    )
    for record in caplog.records:
        print("  " + record.getMessage())
    assert statistics.median(times) < 1.0


def test_a_ready_task_on_a_queue_no_worker_serves_is_flagged(
    backend: TemporalTaskBackend, ops: TaskOperations, operator: Client, worker: Any
) -> None:
    unserved = tasks.add.using(queue_name="emails").enqueue(1, 1)  # the worker serves default
    served = tasks.noop.enqueue()
    wait_finished(backend, served.id)
    visible(ops, 2)
    listing = text(operator.get(reverse("admin:django_tasks_temporal_task_changelist")))
    assert listing.count("no worker serves this queue") == 1
    page = text(operator.get(detail(unserved.id)))
    assert 'id="queue-unserved"' in page
    assert "manage.py run_temporal_worker --queue emails" in page
    assert 'id="queue-unserved"' not in text(operator.get(detail(served.id)))
