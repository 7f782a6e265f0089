"""The tasks `POST enqueue/<name>/` may start: TASKS_API_ENQUEUE, read at access time.

    TASKS_API_ENQUEUE = {
        "order-paid": {
            "task": "shop.tasks.fulfil_order",   # required: a module-level @task
            "format": "pubsub",                  # "auto" (default), "json", "cloudevents"
            "arguments": "kwargs",               # or "event": the whole event as one argument
            "queue_name": "orders", "priority": 10, "backend": "default",
            "allowed_emails": ["push@my-project.iam.gserviceaccount.com"],
            "schema": {"type": "object", "properties": {"order_id": {"type": "integer"}}},
            "start_timeout": 5,
        },
    }

Only a declared name can start anything, and only its task. The shape is checked by
`parse()` (a bad value closes the trigger service, like every TASKS_API_* setting); the
task paths are imported on use and by the system check (`task_problems()`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.tasks import Task
from django.utils.module_loading import import_string

from django_tasks_temporal.options import Problem

if TYPE_CHECKING:
    from django_tasks_temporal.backend import TemporalTaskBackend

SETTING = "TASKS_API_ENQUEUE"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FORMATS = ("auto", "json", "pubsub", "cloudevents")
ARGUMENTS = ("kwargs", "event")
KEYS = frozenset(
    {"task", "format", "arguments", "queue_name", "priority", "backend", "allowed_emails",
     "schema", "start_timeout"}
)
DEFAULT_START_TIMEOUT = 5.0
MAX_START_TIMEOUT = 120.0

Format = Literal["auto", "json", "pubsub", "cloudevents"]
Arguments = Literal["kwargs", "event"]


class TaskNotUsable(ImproperlyConfigured):
    """A declared task path does not import as a task of a Temporal backend."""


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """One name of TASKS_API_ENQUEUE, validated."""

    name: str
    task_path: str
    format: Format = "auto"
    arguments: Arguments = "kwargs"
    queue_name: str | None = None
    priority: int | None = None
    backend: str | None = None
    allowed_emails: frozenset[str] | None = None  # casefolded; None: whoever may call enqueue/
    schema: Mapping[str, Any] | None = None
    start_timeout: float = DEFAULT_START_TIMEOUT

    def allows(self, email: str) -> bool:
        return self.allowed_emails is None or email.casefold() in self.allowed_emails

    def resolve(self) -> tuple[Task[..., Any], TemporalTaskBackend]:
        """The declared task, with the declared queue, priority and backend, and its backend."""
        # Imported here: the system checks load this module in every process.
        from django_tasks_temporal.backend import TemporalTaskBackend

        where = f"{SETTING}[{self.name!r}]['task']"
        try:
            task = import_string(self.task_path)
        except Exception as e:  # ImportError, or whatever the module raises on import
            raise TaskNotUsable(f"{where} {self.task_path!r} does not import: {e}") from e
        if not isinstance(task, Task):
            raise TaskNotUsable(f"{where} {self.task_path!r} is not a task (use @task).")
        try:
            task = task.using(
                queue_name=self.queue_name, priority=self.priority, backend=self.backend
            )
            backend = task.get_backend()
        except Exception as e:  # InvalidTask, InvalidTaskBackend: the declaration's fault
            raise TaskNotUsable(f"{where} {self.task_path!r} cannot be used: {e}") from e
        if not isinstance(backend, TemporalTaskBackend):
            raise TaskNotUsable(
                f"{where} {self.task_path!r} runs on backend {task.backend!r}, "
                "which is not a TemporalTaskBackend."
            )
        return task, backend


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        raise ImproperlyConfigured(f"{where} must be one of {list(choices)}, got {value!r}.")
    return value


def _emails(where: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(
        isinstance(e, str) and "@" in e for e in value
    ):
        raise ImproperlyConfigured(f"{where} must be a list of e-mail addresses, got {value!r}.")
    return frozenset(e.strip().casefold() for e in value)


def _schema(where: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{where} must be a JSON Schema (a JSON-serialisable dict).")
    return value


def _declaration(name: Any, spec: Any) -> Declaration:
    where = f"{SETTING}[{name!r}]"
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ImproperlyConfigured(
            f"{SETTING} has the name {name!r}; use 1 to 64 letters, digits, '-' and '_'."
        )
    if not isinstance(spec, dict):
        raise ImproperlyConfigured(f"{where} must be a dict, got {spec!r}.")
    unknown = sorted(str(key) for key in set(spec) - KEYS)
    if unknown:
        raise ImproperlyConfigured(f"{where} has unknown keys {unknown}; expected {sorted(KEYS)}.")
    task_path = spec.get("task")
    if not isinstance(task_path, str) or "." not in task_path:
        raise ImproperlyConfigured(f"{where}['task'] must be a dotted path, got {task_path!r}.")
    for key in ("queue_name", "backend"):
        if spec.get(key) is not None and not (isinstance(spec[key], str) and spec[key]):
            raise ImproperlyConfigured(f"{where}[{key!r}] must be a non-empty string.")
    priority = spec.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not -100 <= priority <= 100
    ):
        raise ImproperlyConfigured(
            f"{where}['priority'] must be a whole number from -100 to 100, got {priority!r}."
        )
    timeout = spec.get("start_timeout", DEFAULT_START_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0.5 <= timeout <= MAX_START_TIMEOUT
    ):
        raise ImproperlyConfigured(
            f"{where}['start_timeout'] must be a number of seconds from 0.5 to "
            f"{MAX_START_TIMEOUT:g}, got {timeout!r}."
        )
    return Declaration(
        name=name,
        task_path=task_path,
        format=_choice(f"{where}['format']", spec.get("format", "auto"), FORMATS),
        arguments=_choice(f"{where}['arguments']", spec.get("arguments", "kwargs"), ARGUMENTS),
        queue_name=spec.get("queue_name"),
        priority=priority,
        backend=spec.get("backend"),
        allowed_emails=_emails(f"{where}['allowed_emails']", spec.get("allowed_emails")),
        schema=_schema(f"{where}['schema']", spec.get("schema")),
        start_timeout=float(timeout),
    )


def parse() -> dict[str, Declaration]:
    """TASKS_API_ENQUEUE as declarations; `ImproperlyConfigured` names the first bad value."""
    value = getattr(settings, SETTING, {})
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{SETTING} must be a dict of name to task, got {value!r}.")
    return {name: _declaration(name, spec) for name, spec in value.items()}


def declared(name: str) -> Declaration | None:
    """The declaration of `name`, or None when there is none."""
    return parse().get(name)


def task_problems() -> list[Problem]:
    """A declared task that cannot be used (E111), for the system checks."""
    try:
        declarations = parse()
    except ImproperlyConfigured:
        return []  # reported as E110
    found = []
    for declaration in declarations.values():
        try:
            declaration.resolve()
        except TaskNotUsable as e:
            found.append(
                Problem(
                    id="E111",
                    message=str(e),
                    hint="Name a module-level function decorated with @task, whose backend "
                    "is a TemporalTaskBackend.",
                )
            )
    return found
