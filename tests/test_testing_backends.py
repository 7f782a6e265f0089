"""A tasks module using this package's per-task options works under test backends
(issue 11, item 3)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from types import ModuleType

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.test import override_settings

from django_tasks_temporal.exceptions import TaskTimedOut

USERS_TASKS = """
    import time

    from django_tasks_temporal import task

    calls = []

    @task(max_attempts=3, timeout=60)
    def flaky(fail_times):
        calls.append(1)
        if len(calls) <= fail_times:
            raise ConnectionError(f"attempt {len(calls)}")
        return len(calls)

    @task(timeout=0.2)
    def slow():
        time.sleep(1)

    @task(timeout=0.2)
    async def slow_async():
        import asyncio
        await asyncio.sleep(1)
"""


@pytest.fixture
def users_tasks(tmp_path, monkeypatch) -> Iterator[ModuleType]:
    name = f"users_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USERS_TASKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield importlib.import_module(name)
    finally:
        sys.modules.pop(name, None)


def backend_setting(path: str) -> dict[str, dict[str, str]]:
    return {"default": {"BACKEND": path}}


@override_settings(TASKS=backend_setting("django.tasks.backends.immediate.ImmediateBackend"))
def test_the_module_runs_under_djangos_immediate_backend(users_tasks):
    assert users_tasks.flaky.enqueue(0).return_value == 1


@override_settings(TASKS=backend_setting("django.tasks.backends.dummy.DummyBackend"))
def test_the_module_enqueues_under_djangos_dummy_backend(users_tasks):
    result = users_tasks.flaky.enqueue(0)
    assert result.status == TaskResultStatus.READY
    assert [r.id for r in default_task_backend.results] == [result.id]


@override_settings(TASKS=backend_setting("django_tasks_temporal.testing.ImmediateBackend"))
def test_the_packages_immediate_backend_retries_up_to_max_attempts(users_tasks):
    succeeded = users_tasks.flaky.enqueue(2)
    assert succeeded.status == TaskResultStatus.SUCCESSFUL
    assert succeeded.return_value == 3 and succeeded.attempts == 3
    assert [e.exception_class for e in succeeded.errors] == [ConnectionError, ConnectionError]
    users_tasks.calls.clear()
    failed = users_tasks.flaky.enqueue(5)
    assert failed.status == TaskResultStatus.FAILED and failed.attempts == 3


@override_settings(TASKS=backend_setting("django_tasks_temporal.testing.ImmediateBackend"))
def test_the_packages_immediate_backend_enforces_timeouts(users_tasks):
    for task in (users_tasks.slow, users_tasks.slow_async):
        result = task.enqueue()
        assert result.status == TaskResultStatus.FAILED
        assert result.errors[0].exception_class is TaskTimedOut


@override_settings(TASKS=backend_setting("django_tasks_temporal.testing.ImmediateBackend"))
def test_djangos_own_task_decorator_takes_the_options_under_the_test_backend(tmp_path):
    from django.tasks import task

    def flaky():  # a module-level-looking function is enough for the decorator
        raise ValueError("always")

    flaky.__qualname__ = flaky.__name__
    declared = task(max_attempts=2)(flaky)
    assert declared.max_attempts == 2
