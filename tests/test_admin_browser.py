"""The admin in a real browser: headless Chromium (Debian's) driven by Playwright, against
a live server, a real Temporal dev server and an in-process worker.

`SAVE_SCREENSHOTS=1` also writes docs/admin-list.png and docs/admin-detail.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.operations import TaskOperations
from tests import tasks
from tests.conftest import ROOT, wait_finished, wait_for

CHROMIUM = "/usr/bin/chromium"
GATED = "nightly"
TASKS_PATH = "/admin/django_tasks_temporal/task/"
WIDTH = 1280  # a common laptop screen: the whole list must fit it
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"Debian's Chromium is not installed at {CHROMIUM} "
        "(apt-get install -y --no-install-recommends chromium).",
    ),
    pytest.mark.django_db(transaction=True),  # the live server must see the users
    pytest.mark.slow,
]


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"trigger_queues": [GATED]}


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop on this thread, which Django's ORM takes
    # for an async context: the test's own ORM calls (creating users) are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        # launch() gives the browser a fresh, empty profile directory of its own.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def user(username: str, *codenames: str, staff: bool = True) -> User:
    """A user holding `codenames` through a group, the way sites grant permissions."""
    person = User.objects.create_user(username, password="secret-pw", is_staff=staff)
    group = Group.objects.create(name=f"{username}s")
    group.permissions.set(Permission.objects.filter(
        content_type__app_label="django_tasks_temporal", codename__in=codenames))
    person.groups.add(group)
    return person


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={TASKS_PATH}")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pw")
    page.click("input[type=submit]")


def row(page: Page, task_id: str) -> Any:
    return page.locator(f'tr[data-task-id="{task_id}"]')


def confirm(page: Page) -> None:
    expect(page.locator("#content")).to_contain_text("Are you sure")
    page.get_by_role("button", name=re.compile(r"^Yes, I.m sure$")).click()


def expect_message(page: Page, level: str, text: str) -> None:
    expect(page.locator(f"ul.messagelist li.{level}").filter(has_text=text)).to_be_visible()


def reload_until(page: Page, selector: str, text: str, timeout: float = 30) -> None:
    def shows() -> bool:
        page.reload()
        return text in page.locator(selector).inner_text()

    wait_for(shows, timeout=timeout, interval=0.3)


def assert_every_column_fits(page: Page) -> None:
    """The task list needs no horizontal scrolling, and every column header is in view."""
    sizes = page.evaluate("""() => {
        const table = document.querySelector("#result_list");
        const box = table.parentElement.getBoundingClientRect();
        return {
            table: table.scrollWidth,
            container: table.parentElement.clientWidth,
            document: document.documentElement.scrollWidth,
            visible: [Math.max(box.left, 0), Math.min(box.right, window.innerWidth)],
            headers: [...table.querySelectorAll("thead th")].map(th => [
                th.textContent.trim(), th.getBoundingClientRect().left,
                th.getBoundingClientRect().right,
            ]),
        };
    }""")
    assert page.viewport_size is not None and page.viewport_size["width"] == WIDTH
    assert sizes["table"] <= sizes["container"], sizes
    assert sizes["document"] <= WIDTH, sizes
    assert [h for h, _, _ in sizes["headers"]][-2:] == ["Finished", "Attempts"]
    low, high = sizes["visible"]
    for header, left, right in sizes["headers"]:
        assert low <= left and right <= high + 0.5, (header, left, right, sizes)


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("SAVE_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / name)


def test_an_operator_watches_and_manages_tasks(
    backend: TemporalTaskBackend, worker: Any, live_server: Any, page: Page, tmp_path: Path
) -> None:
    user("operator", "view_task", "run_task", "cancel_task", "purge_task")
    ops = TaskOperations(backend)
    receipt = tasks.echo.enqueue(1042, email="ada@example.com")
    added = tasks.add.using(priority=10).enqueue(2, 3)
    failed = tasks.fail.enqueue("card declined")
    for result in (receipt, added, failed):
        wait_finished(backend, result.id)
    gate = tmp_path / "gate"
    running = tasks.report_then_wait.enqueue(str(gate), 3, 10, "Rendering page 3 of 10")
    waiting = tasks.add.using(queue_name=GATED, priority=-20).enqueue(20, 22)
    later = tasks.add.using(run_after=timezone.now() + timedelta(hours=2)).enqueue(0, 0)
    wait_for(lambda: ops.get(running.id).progress is not None)
    wait_for(lambda: ops.count(ops.query()) == 6)

    # The list: every task with its true status, counts per status.
    log_in(page, live_server.url, "operator")
    expect(page.locator("h1")).to_have_text("Tasks")
    expect(row(page, added.id).locator(".task-status")).to_have_text("SUCCESSFUL")
    expect(row(page, failed.id).locator(".task-status")).to_have_text("FAILED")
    expect(row(page, failed.id)).to_contain_text("TaskBoom")
    expect(row(page, running.id).locator(".task-status")).to_have_text("RUNNING")
    expect(row(page, running.id).locator(".task-progress-bar")).to_have_attribute("value", "0.3")
    expect(row(page, running.id).locator(".task-progress")).to_contain_text("30% 3/10")
    expect(row(page, running.id)).to_contain_text("Rendering page 3 of 10")
    expect(row(page, waiting.id).locator(".task-status")).to_have_text("READY")
    expect(row(page, waiting.id)).to_contain_text("waiting for a trigger")
    expect(row(page, later.id)).to_contain_text("runs after")
    expect(row(page, waiting.id).locator(".field-queue")).to_have_text(GATED)
    filters = page.locator("#changelist-filter")
    for count in ("Open (READY or RUNNING) (3)", "Waiting for a trigger (1)",
                  "Successful (2)", "Failed (1)"):
        expect(filters).to_contain_text(count)
    assert_every_column_fits(page)
    screenshot(page, tmp_path, "admin-list.png")

    # The running task's page shows its progress bar and message.
    page.get_by_role("link", name=running.id).click()
    expect(page.locator("#task-progress .task-progress-bar")).to_have_attribute("value", "0.3")
    expect(page.locator("#task-progress")).to_contain_text("Rendering page 3 of 10")
    screenshot(page, tmp_path, "admin-progress.png")
    page.goto(f"{live_server.url}{TASKS_PATH}")

    # Filters and the id search.
    filters.get_by_role("link", name="Failed (1)").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(row(page, failed.id)).to_be_visible()
    filters.get_by_role("link", name="Clear all filters").click()
    filters.locator('details[data-filter-title="queue"]').get_by_role("link", name=GATED).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(row(page, waiting.id)).to_be_visible()
    filters.get_by_role("link", name="Clear all filters").click()
    filters.get_by_role("link", name="tests.tasks.echo").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    filters.get_by_role("link", name="Clear all filters").click()
    page.fill("#searchbar", added.id)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(row(page, added.id)).to_be_visible()

    # The failed task's page: arguments, the traceback, the worker, Temporal's Web UI.
    with override_settings(TASKS_ADMIN_TEMPORAL_UI_URL="http://localhost:8233"):
        page.goto(f"{live_server.url}{TASKS_PATH}")
        page.get_by_role("link", name=failed.id).click()
        expect(page.locator("h1")).to_have_text(f"Task {failed.id}")
        expect(page.locator(".task-traceback")).to_contain_text("Traceback (most recent call last)")
        expect(page.locator(".task-traceback")).to_contain_text("TaskBoom: card declined")
        expect(page.locator("#task-error h3")).to_have_text("Attempt 1: tests.tasks.TaskBoom")
        expect(page.locator("#task-earlier-errors")).to_have_count(0)
        expect(page.locator("#task-args")).to_contain_text('"card declined"')
        expect(page.locator("#task-attempts")).to_contain_text(worker.config.identity)
        expect(page.locator("#temporal-ui-link")).to_have_attribute(
            "href", f"http://localhost:8233/namespaces/default/workflows/{failed.id}")
        screenshot(page, tmp_path, "admin-detail.png")

        # Retry it from its page: it runs again under its id (and fails again).
        page.click("#action-retry")
        confirm(page)
        expect_message(page, "success", "runs again under the same id")
    reload_until(page, "#field-attempts", "2")
    expect(page.locator("#task-error h3")).to_have_text("Attempt 2: tests.tasks.TaskBoom")
    expect(page.locator("#task-earlier-errors h3")).to_have_text(
        ["Attempt 1: tests.tasks.TaskBoom"])

    # Run now: the waiting task runs; the finished one is refused with a warning.
    page.goto(f"{live_server.url}{TASKS_PATH}")
    row(page, added.id).locator("input.action-select").check()
    page.select_option("select[name=action]", "run")
    page.click("button[name=index]")
    expect_message(page, "warning", f"Task “{added.id}” was not changed: it has finished")
    row(page, waiting.id).locator("input.action-select").check()
    row(page, added.id).locator("input.action-select").check()
    # Six tasks (the retried one has two runs): the header and the selection count tasks.
    expect(page.locator("#result-count")).to_have_text("6 tasks")
    expect(page.locator(".action-counter")).to_have_text("2 of 6 selected")
    page.select_option("select[name=action]", "run")
    page.click("button[name=index]")
    expect(page.locator("#selected-tasks")).to_contain_text("skipped: it has finished")
    confirm(page)
    expect_message(page, "success", f"Task “{waiting.id}” was released to run now.")
    page.get_by_role("link", name=waiting.id).click()
    reload_until(page, "#field-status", "SUCCESSFUL")
    expect(page.locator("#task-return-value")).to_have_text("42")

    # Cancel the delayed task from its page.
    page.goto(f"{live_server.url}{TASKS_PATH}")
    page.get_by_role("link", name=later.id).click()
    page.click("#action-cancel")
    confirm(page)
    expect_message(page, "success", "was asked to cancel")
    reload_until(page, "#field-status", "FAILED")
    expect(page.locator("#task-error")).to_contain_text(
        "Before any attempt ran: django_tasks_temporal.exceptions.TaskCancelled")
    expect(page.locator("#field-attempts")).to_have_text("0")
    expect(page.locator("#task-attempts tbody")).to_have_text("No attempt ran.")
    expect(page.locator("#object-tools, .object-tools")).not_to_contain_text("Cancel")
    page.goto(f"{live_server.url}{TASKS_PATH}")
    expect(row(page, later.id).locator(".task-status")).to_have_text("FAILED")
    expect(row(page, later.id)).not_to_contain_text("runs after")  # it waits no more

    # Purge the successful tasks: a form, a confirmation with the count, then a message.
    gate.touch()
    wait_finished(backend, running.id)
    page.goto(f"{live_server.url}{TASKS_PATH}")
    page.click("#purge-link")
    page.fill("#id_days", "0")
    page.get_by_label("Successful").check()
    page.click("input[type=submit][value='Purge…']")
    expect(page.locator("#purge-matched")).to_contain_text(
        "Are you sure you want to delete the 4 tasks that finished more than 0 days ago "
        "as SUCCESSFUL?")
    confirm(page)
    expect_message(page, "success", "Purging 4 finished tasks (Temporal batch job")
    successful = ops.query(statuses=[TaskResultStatus.SUCCESSFUL])
    wait_for(lambda: ops.count(successful) == 0, timeout=90)  # a background batch job
    reload_until(page, "#changelist-filter", "Successful (0)")
    expect(row(page, failed.id)).to_be_visible()


def test_a_user_who_is_not_staff_is_refused(
    backend: TemporalTaskBackend, live_server: Any, page: Page
) -> None:
    user("customer", "view_task", "run_task", staff=False)  # permissions without is_staff
    log_in(page, live_server.url, "customer")
    expect(page.locator(".errornote")).to_contain_text("correct username and password for a "
                                                        "staff account")
    page.goto(f"{live_server.url}{TASKS_PATH}")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next="))


def test_staff_with_only_the_view_permission_cannot_act(
    backend: TemporalTaskBackend, live_server: Any, page: Page
) -> None:
    user("watcher", "view_task")
    ops = TaskOperations(backend)
    waiting = tasks.add.using(queue_name=GATED).enqueue(1, 1)
    wait_for(lambda: ops.count(ops.query()) == 1)
    log_in(page, live_server.url, "watcher")
    expect(row(page, waiting.id)).to_contain_text("waiting for a trigger")
    expect(page.locator("input.action-select")).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)
    expect(page.locator("#purge-link")).to_have_count(0)
    page.get_by_role("link", name=waiting.id).click()
    expect(page.locator("h1")).to_have_text(f"Task {waiting.id}")
    expect(page.locator("#action-run")).to_have_count(0)
    expect(page.locator("#action-cancel")).to_have_count(0)
    response = page.goto(f"{live_server.url}{TASKS_PATH}action/?action=run"
                         f"&_selected_action={waiting.id}")
    assert response is not None and response.status == 403
    response = page.goto(f"{live_server.url}{TASKS_PATH}purge/")
    assert response is not None and response.status == 403
    assert ops.get(waiting.id).waiting_for_trigger

    user("stranger")  # staff, but no permission on tasks
    page.context.clear_cookies()
    log_in(page, live_server.url, "stranger")
    expect(page.locator("h1")).to_have_text("403 Forbidden")
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#content-main")).not_to_contain_text("Tasks")
