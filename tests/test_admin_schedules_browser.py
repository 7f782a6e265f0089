"""The admin's Schedules pages in a real browser (Debian's Chromium driven by Playwright),
against a live server, a real Temporal dev server and an in-process worker.

`SAVE_SCREENSHOTS=1` also writes docs/admin-schedules.png and docs/admin-schedule.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.schedules import ScheduleOperations
from tests import test_admin_browser as shared
from tests.conftest import ThreadWorker, wait_for
from tests.schedules_support import declared, remove_schedules
from tests.test_admin_browser import confirm, expect_message, log_in, reload_until, screenshot, user
from tests.test_schedules import HOURLY, NIGHTLY, create_foreign

# The browser tests' own marks (Chromium present, a transactional database, slow) and
# fixtures (one headless Chromium, a 1280 px page).
pytestmark = shared.pytestmark
browser = shared.browser
page = shared.page

SCHEDULES_PATH = "/admin/django_tasks_temporal/schedule/"
TICK = {"task": "tests.tasks.add", "every": 2, "args": [20, 22]}
ALL = ("view_schedule", "trigger_schedule", "pause_schedule", "backfill_schedule", "view_task")


@pytest.fixture
def schedules(backend: TemporalTaskBackend) -> Iterator[TemporalTaskBackend]:
    """tick, nightly and hourly synced (and running), old-report an orphan, taken blocked."""
    with declared(backend, {"old-report": NIGHTLY}) as redeclared:
        ScheduleOperations(redeclared).sync()
    declarations = {"tick": TICK, "nightly": NIGHTLY, "hourly": HOURLY, "taken": NIGHTLY}
    create_foreign(backend, "taken")
    with declared(backend, declarations) as redeclared:
        worker = ThreadWorker(redeclared).start()  # it syncs them when it starts
        try:
            yield redeclared
        finally:
            remove_schedules(redeclared, [*declarations, "old-report"])
            worker.stop()


def schedule_row(page: Page, name: str) -> Any:
    return page.locator(f'tr[data-schedule="{name}"]')


def test_an_operator_watches_and_manages_schedules(
    schedules: TemporalTaskBackend, live_server: Any, page: Page, tmp_path: Path
) -> None:
    user("operator", *ALL)
    ops = ScheduleOperations(schedules)
    wait_for(lambda: len(ops.get("tick").recent_runs) >= 3, timeout=60)
    log_in(page, live_server.url, "operator")
    page.goto(f"{live_server.url}{SCHEDULES_PATH}")
    expect(page.locator("h1")).to_have_text("Schedules")
    expect(schedule_row(page, "tick").locator(".field-state")).to_have_text("active")
    expect(schedule_row(page, "nightly").locator(".field-when")).to_have_text(
        "cron '30 2 * * *' (Europe/Warsaw)")
    expect(schedule_row(page, "taken").locator(".field-state")).to_have_text("blocked")
    expect(schedule_row(page, "old-report")).to_contain_text("no longer declared")
    screenshot(page, tmp_path, "admin-schedules.png")

    # A schedule's page: its next times, its recent runs linked to their task pages.
    schedule_row(page, "tick").get_by_role("link", name="tick").click()
    expect(page.locator("h1")).to_have_text("Schedule tick")
    expect(page.locator("#schedule-next-runs tbody tr")).to_have_count(5)
    reload_until(page, "#schedule-recent-runs", "SUCCESSFUL")
    screenshot(page, tmp_path, "admin-schedule.png")
    page.locator("#schedule-recent-runs a.task-id").first.click()
    expect(page.locator("#field-status")).to_contain_text("SUCCESSFUL")
    expect(page.locator("#task-return-value")).to_have_text("42")

    # Trigger now: a run starts and the message links its task.
    page.goto(f"{live_server.url}{SCHEDULES_PATH}")
    schedule_row(page, "hourly").get_by_role("link", name="hourly").click()
    page.click("#action-trigger")
    confirm(page)
    expect_message(page, "success", "Schedule “hourly” started task")
    page.locator("ul.messagelist li.success a").click()
    reload_until(page, "#field-status", "SUCCESSFUL")
    expect(page.locator("#task-return-value")).to_have_text("3")

    # Pause with a note, which the list shows; then unpause.
    page.goto(f"{live_server.url}{SCHEDULES_PATH}")
    schedule_row(page, "nightly").get_by_role("link", name="nightly").click()
    page.click("#action-pause")
    page.fill("#id_note", "Stocktaking this week.")
    page.get_by_role("button", name="Pause").click()
    expect_message(page, "success", "Schedule “nightly” is paused.")
    expect(page.locator("#field-note")).to_have_text("Stocktaking this week.")
    page.locator(".breadcrumbs").get_by_role("link", name="Schedules").click()
    state = schedule_row(page, "nightly").locator(".field-state")
    expect(state.locator(".task-status")).to_have_text("paused")
    expect(state.locator(".task-note")).to_have_text("Stocktaking this week.")
    schedule_row(page, "nightly").get_by_role("link", name="nightly").click()
    page.click("#action-unpause")
    page.get_by_role("button", name="Unpause").click()
    expect_message(page, "success", "Schedule “nightly” runs again.")

    # Backfill two past hours of the hourly schedule.
    hour = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    page.goto(f"{live_server.url}{SCHEDULES_PATH}")
    schedule_row(page, "hourly").get_by_role("link", name="hourly").click()
    page.click("#action-backfill")
    page.fill("#id_start", f"{hour - timedelta(hours=2, minutes=30):%Y-%m-%dT%H:%M}")
    page.fill("#id_end", f"{hour - timedelta(minutes=30):%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Backfill").click()
    expect_message(page, "success", "Schedule “hourly” is backfilling")
    reload_until(page, "#field-runs-started", "3")


def test_staff_with_only_the_view_permission_see_no_action(
    schedules: TemporalTaskBackend, live_server: Any, page: Page
) -> None:
    user("watcher", "view_schedule")
    log_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}{SCHEDULES_PATH}")
    schedule_row(page, "hourly").get_by_role("link", name="hourly").click()
    expect(page.locator("h1")).to_have_text("Schedule hourly")
    expect(page.locator(".object-tools")).to_have_count(0)
    page.goto(f"{live_server.url}{SCHEDULES_PATH}hourly/trigger/")
    expect(page.locator("h1")).to_contain_text("403")
