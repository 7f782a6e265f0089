"""TASKS_API_ENQUEUE: read at access time; a bad value is a system check and closes the service."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_tasks_temporal.api.declarations import TaskNotUsable, declared, parse
from tests.oidc import claims, serving_certs, signing_key

KEY = signing_key("declarations-key")


def our_checks() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]


def test_a_declaration_with_every_key(settings: Any) -> None:
    settings.TASKS_API_ENQUEUE = {
        "order-paid": {
            "task": "tests.tasks.add",
            "format": "pubsub",
            "arguments": "event",
            "queue_name": "orders",
            "priority": -3,
            "backend": "default",
            "allowed_emails": [" Push@Example.com "],
            "schema": {"type": "object"},
            "start_timeout": 2,
        },
        "bare": {"task": "tests.tasks.add"},
    }
    paid = declared("order-paid")
    assert paid is not None and paid.allows("push@example.COM") and not paid.allows("x@y.z")
    task, backend = paid.resolve()
    assert (task.queue_name, task.priority, backend.alias) == ("orders", -3, "default")
    bare = declared("bare")
    assert bare is not None and (bare.format, bare.arguments, bare.start_timeout) == (
        "auto", "kwargs", 5.0
    )
    assert bare.allows("anyone@example.com")
    assert declared("missing") is None
    assert not our_checks()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["x"], "TASKS_API_ENQUEUE must be a dict"),
        ({"bad name!": {"task": "tests.tasks.add"}}, "has the name 'bad name!'"),
        ({"a": "tests.tasks.add"}, "TASKS_API_ENQUEUE['a'] must be a dict"),
        ({"a": {"task": "tests.tasks.add", "queue": "x"}}, "unknown keys ['queue']"),
        ({"a": {}}, "['task'] must be a dotted path, got None"),
        ({"a": {"task": "tests.tasks.add", "format": "xml"}}, "['format'] must be one of"),
        ({"a": {"task": "tests.tasks.add", "arguments": "all"}}, "['arguments'] must be one of"),
        ({"a": {"task": "tests.tasks.add", "priority": 101}}, "from -100 to 100, got 101"),
        ({"a": {"task": "tests.tasks.add", "priority": True}}, "from -100 to 100, got True"),
        ({"a": {"task": "tests.tasks.add", "queue_name": ""}}, "['queue_name'] must be"),
        ({"a": {"task": "tests.tasks.add", "allowed_emails": "a@b.c"}}, "e-mail addresses"),
        ({"a": {"task": "tests.tasks.add", "schema": {"x": object()}}}, "JSON Schema"),
        ({"a": {"task": "tests.tasks.add", "start_timeout": 0}}, "from 0.5 to 120, got 0"),
    ],
)
def test_bad_values_are_e110_and_close_the_service(
    settings: Any, value: Any, message: str
) -> None:
    settings.TASKS_API_ENQUEUE = value
    with pytest.raises(ImproperlyConfigured, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse()
    [problem] = our_checks()
    assert problem.id == "django_tasks_temporal.E110" and message in problem.msg
    assert problem.hint and problem.is_serious()
    with serving_certs(KEY):
        response = Client().post(
            "/tasks/enqueue/a/", "{}", content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {KEY.sign(claims())}",
        )
    assert response.status_code == 403 and response.json()["code"] == "not_configured"


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("tests.tasks.no_such_task", "does not import"),
        ("no_such_module.task", "does not import"),
        ("tests.tasks.TaskBoom", "is not a task"),
    ],
)
def test_tasks_that_cannot_be_used_are_e111(settings: Any, task: str, message: str) -> None:
    settings.TASKS_API_ENQUEUE = {"a": {"task": task}}
    [problem] = our_checks()
    assert problem.id == "django_tasks_temporal.E111" and message in problem.msg
    declaration = declared("a")
    assert declaration is not None
    with pytest.raises(TaskNotUsable, match=message):
        declaration.resolve()


def test_a_declared_backend_must_exist_and_be_temporal(settings: Any) -> None:
    settings.TASKS_API_ENQUEUE = {"a": {"task": "tests.tasks.add", "backend": "nope"}}
    [problem] = our_checks()
    assert problem.id == "django_tasks_temporal.E111" and "cannot be used" in problem.msg
    settings.TASKS = {
        **settings.TASKS,
        "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    }
    settings.TASKS_API_ENQUEUE = {"a": {"task": "tests.tasks.add", "backend": "immediate"}}
    [problem] = our_checks()
    assert "is not a TemporalTaskBackend" in problem.msg
