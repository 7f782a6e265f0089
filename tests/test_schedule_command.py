"""`manage.py sync_temporal_schedules` as a real process: its lines and its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from django_tasks_temporal.backend import TemporalTaskBackend
from tests.conftest import ROOT, subprocess_env
from tests.schedules_support import describe, remove_schedules
from tests.test_schedules import NIGHTLY, create_foreign

HOURLY = {"task": "tests.tasks.add", "cron": "0 * * * *", "args": [1, 2]}


@pytest.fixture(autouse=True)
def no_schedule_left_behind(backend: TemporalTaskBackend) -> Iterator[None]:
    yield
    remove_schedules(backend, ["nightly", "hourly", "taken"])


def sync(backend: TemporalTaskBackend, schedules: dict[str, Any] | None,
         *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**subprocess_env(backend), "TEMPORAL_SCHEDULES": json.dumps(schedules)}
    return subprocess.run(
        [sys.executable, "-m", "django", "sync_temporal_schedules", *flags],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


def test_creates_then_reports_unchanged_and_exits_zero(backend: TemporalTaskBackend) -> None:
    first = sync(backend, {"nightly": NIGHTLY, "hourly": HOURLY})
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "  created  nightly",
        "  created  hourly",
        "TASKS['default'] schedules: 2 created, 0 updated, 0 unchanged, 0 deleted, "
        "0 blocked, 0 invalid",
    ]
    again = sync(backend, {"nightly": NIGHTLY, "hourly": HOURLY}, "-v", "2")
    assert again.returncode == 0 and "0 created, 0 updated, 2 unchanged" in again.stdout
    assert "unchanged  nightly" in again.stdout


def test_dry_run_and_no_prune(backend: TemporalTaskBackend) -> None:
    assert sync(backend, {"nightly": NIGHTLY, "hourly": HOURLY}).returncode == 0
    dry = sync(backend, {"nightly": {**NIGHTLY, "cron": "0 4 * * *"}}, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "(dry run): 0 created, 1 updated, 0 unchanged, 1 deleted" in dry.stdout
    assert describe(backend, "hourly") is not None
    kept = sync(backend, {"nightly": NIGHTLY}, "--no-prune")
    assert "     kept  hourly: no longer declared; kept (--no-prune)" in kept.stdout
    assert kept.returncode == 0 and describe(backend, "hourly") is not None


def test_a_blocked_schedule_is_named_and_the_exit_status_is_one(
    backend: TemporalTaskBackend,
) -> None:
    create_foreign(backend, "taken")
    done = sync(backend, {"taken": NIGHTLY, "nightly": NIGHTLY})
    assert done.returncode == 1
    assert "  blocked  taken: the id " in done.stderr and "does not own" in done.stderr
    assert "1 created, 0 updated, 0 unchanged, 0 deleted, 1 blocked, 0 invalid" in done.stdout
    assert "CommandError: Schedules of TASKS['default'] are blocked or invalid" in done.stderr


def test_an_invalid_declaration_is_reported_and_the_others_sync(
    backend: TemporalTaskBackend,
) -> None:
    schedules = {"nightly": {**NIGHTLY, "task": "tests.tasks.missing"}, "hourly": HOURLY}
    checked = sync(backend, schedules)  # the system checks run first, as for migrate
    assert checked.returncode == 1 and "(django_tasks_temporal.E019)" in checked.stderr
    assert describe(backend, "hourly") is None
    done = sync(backend, schedules, "--skip-checks")
    assert done.returncode == 1
    assert "  invalid  nightly: Task path 'tests.tasks.missing' does not import." in done.stderr
    assert "  created  hourly" in done.stdout


@pytest.mark.parametrize("flags, message", [
    (["--backend", "nope"], "TASKS['nope'] is not a django_tasks_temporal.TemporalTaskBackend"),
    (["--prune"], "unrecognized arguments: --prune"),
])
def test_bad_flags_exit_two(backend: TemporalTaskBackend, flags: list[str], message: str) -> None:
    done = sync(backend, None, *flags)
    assert done.returncode == 2 and message in done.stderr


def test_an_unreachable_server_is_one_sentence_and_exit_one(backend: TemporalTaskBackend) -> None:
    env = {**subprocess_env(backend), "TEMPORAL_TARGET_HOST": "127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "django", "sync_temporal_schedules"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert "CommandError: The Temporal server at '127.0.0.1:9'" in done.stderr
    assert "Traceback" not in done.stderr
