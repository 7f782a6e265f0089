"""OPTIONS["schedules"]: every bad declaration is a system check error with its id and hint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import checks
from django.tasks import task_backends
from django.test import override_settings

from django_tasks_temporal import cron
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.exceptions import InvalidBackendOptions
from django_tasks_temporal.schedule_specs import build
from tests.conftest import tasks_setting

GOOD = {"task": "tests.tasks.add", "cron": "30 2 * * *", "args": [1, 2]}


def our_errors(schedules: Any, **options: Any) -> list[checks.CheckMessage]:
    with override_settings(TASKS=tasks_setting("127.0.0.1:7233", schedules=schedules,
                                               trigger_queues=["gated"], **options)):
        return [e for e in checks.run_checks() if e.id.startswith("django_tasks_temporal.")]


def test_good_declarations_pass_the_checks() -> None:
    assert our_errors({
        "nightly": {**GOOD, "time_zone": "Europe/Warsaw", "overlap": "buffer_one",
                    "catchup_window": 3600, "jitter": 60, "paused": True,
                    "start_at": "2026-01-01T00:00:00+01:00",
                    "end_at": datetime(2030, 1, 1, tzinfo=UTC)},
        "tick": {"task": "tests.tasks.echo", "every": 2, "kwargs": {"a": [1]}},
        "weekdays": {"task": "tests.tasks.noop", "cron": "*/15 9-17 * * MON-FRI"},
        "daily": {"task": "tests.tasks.context_info", "cron": "@daily"},
    }) == []


@pytest.mark.parametrize(
    "schedules, expected_id, fragment",
    [
        (["nightly"], "E018", "must be a dict"),
        ({"no spaces": GOOD}, "E018", "name is not valid"),
        ({"nightly": "tests.tasks.add"}, "E018", "must be a dict"),
        ({"nightly": {**GOOD, "colour": "blue"}}, "E018", "unknown key 'colour'"),
        ({"nightly": {**GOOD, "run_after": "2026-01-01T00:00:00Z"}}, "E018", "use 'start_at'"),
        ({"nightly": {"cron": "@daily"}}, "E019", "task's dotted path"),
        ({"nightly": {**GOOD, "task": "tests.tasks.no_such_task"}}, "E019", "does not import"),
        ({"nightly": {**GOOD, "task": "tests.scheduled_tasks.NOT_A_TASK"}}, "E019",
         "is not a Task"),
        ({"nightly": {**GOOD, "args": [1]}}, "E019", "arguments do not fit"),
        ({"nightly": {"task": "tests.scheduled_tasks.on_a_gated_queue", "cron": "@daily"}},
         "E019", "trigger-gated queue 'gated'"),
        ({"nightly": {"task": "tests.tasks.add"}}, "E020", "exactly one of 'cron' and 'every'"),
        ({"nightly": {**GOOD, "every": 60}}, "E020", "exactly one of 'cron' and 'every'"),
        ({"nightly": {**GOOD, "cron": "30 2 * *"}}, "E020", "expected 5 fields"),
        ({"nightly": {**GOOD, "cron": "61 2 * * *"}}, "E020", "minute field has '61'"),
        ({"nightly": {**GOOD, "cron": "0 0 L * *"}}, "E020", "day of month field has 'L'"),
        ({"nightly": {**GOOD, "cron": "@fortnightly"}}, "E020", "unknown macro"),
        ({"nightly": {**GOOD, "cron": 230}}, "E020", "must be a string"),
        ({"nightly": {**GOOD, "time_zone": "Mars/Olympus_Mons"}}, "E020", "'Mars/Olympus_Mons'"),
        ({"nightly": {"task": "tests.tasks.noop", "every": 0.5}}, "E020", "'every'"),
        ({"nightly": {**GOOD, "start_at": datetime(2026, 1, 1)}}, "E020", "aware datetime"),
        ({"nightly": {**GOOD, "end_at": "tomorrow"}}, "E020", "'tomorrow'"),
        ({"nightly": {**GOOD, "overlap": "queue"}}, "E021", "got 'queue'"),
        ({"nightly": {**GOOD, "catchup_window": 5}}, "E021", ">= 10"),
        ({"nightly": {**GOOD, "jitter": -1}}, "E021", "'jitter'"),
        ({"nightly": {**GOOD, "paused": "no"}}, "E021", "True or False"),
        ({"nightly": {**GOOD, "args": (1, 2)}}, "E022", "must be a list"),
        ({"nightly": {**GOOD, "kwargs": {1: 2}}}, "E022", "string keys"),
        ({"nightly": {**GOOD, "args": [1, object()]}}, "E022", "not JSON serialisable"),
    ],
)
def test_bad_declarations_are_reported(schedules: Any, expected_id: str, fragment: str) -> None:
    errors = our_errors(schedules)
    assert [e.id for e in errors] == [f"django_tasks_temporal.{expected_id}"], errors
    assert fragment in errors[0].msg and errors[0].hint


def test_sync_on_start_must_be_a_boolean() -> None:
    [error] = our_errors({}, sync_schedules_on_start="yes")
    assert error.id == "django_tasks_temporal.E023" and "'yes'" in error.msg


def test_a_bad_declaration_makes_the_backend_unusable_like_any_bad_option() -> None:
    with override_settings(TASKS=tasks_setting("127.0.0.1:7233",
                                               schedules={"x": {"task": "tests.tasks.add"}})):
        backend = task_backends["default"]
        assert isinstance(backend, TemporalTaskBackend)
        with pytest.raises(InvalidBackendOptions, match="exactly one of 'cron' and 'every'"):
            backend._usable_config()


@override_settings(TIME_ZONE="America/Chicago")  # Django's default when a project sets none
def test_the_default_time_zone_is_utc_not_django_time_zone() -> None:
    with override_settings(TASKS=tasks_setting("127.0.0.1:7233", schedules={"nightly": GOOD})):
        backend = task_backends["default"]
        assert isinstance(backend, TemporalTaskBackend)
        [declaration] = backend.config.schedules
        built = build(backend, declaration)
        assert built.schedule.spec.time_zone_name == "UTC"
        assert built.schedule.spec.cron_expressions == ["30 2 * * *"]


@pytest.mark.parametrize("expression", [
    "* * * * *", "0 0 * * 7", "0 0 1 JAN *", "*/15 9-17 * * 1-5", "5/10 * * * *",
    "0,30 8-18/2 1-15 * mon", "@hourly", "@ANNUALLY",
])
def test_cron_expressions_temporal_accepts(expression: str) -> None:
    cron.validate(expression)


@pytest.mark.parametrize("expression, fragment", [
    ("? * * * *", "minute field has '?'"),
    ("0 24 * * *", "hour field has '24'"),
    ("0 0 0 * *", "day of month field has '0'"),
    ("0 0 * 13 *", "month field has '13'"),
    ("0 0 * * 8", "day of week field has '8'"),
    ("0 0 * * FRI-MON", "runs backwards"),
    ("*/0 * * * *", "step '0'"),
    ("* * * * * *", "got 6"),
])
def test_cron_expressions_temporal_refuses(expression: str, fragment: str) -> None:
    with pytest.raises(cron.InvalidCron, match=fragment.replace("?", r"\?").replace("*", r"\*")):
        cron.validate(expression)
