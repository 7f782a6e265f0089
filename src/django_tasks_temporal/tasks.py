"""The `Task` class of this backend, the `@task` decorator, and loading a task by path.

`TemporalTask` adds per-task `max_attempts` and `timeout` to Django's `Task`. Django's own
`@task` passes extra keyword arguments to the *backend's* task class, so under Django's
test backends `@task(max_attempts=3)` is a `TypeError`; this package's `task` decorator
always builds a `TemporalTask`, which every backend accepts (Django's backends ignore
the extra fields).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, overload

from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, Task
from django.tasks.base import DEFAULT_TASK_PRIORITY
from django.tasks.exceptions import InvalidTask
from django.utils.module_loading import import_string

from django_tasks_temporal.payloads import RunTaskInput

if TYPE_CHECKING:
    AnyTask = Task[..., Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalTask(Task):  # type: ignore[type-arg]  # Task is generic only in the stubs
    """A `Task` that may override the backend's retry policy and timeout."""

    max_attempts: int | None = None  # None: the backend's OPTIONS["max_attempts"]
    timeout: float | None = None  # seconds per attempt; None: OPTIONS["timeout"]


@overload
def task(function: Callable[..., Any], /) -> TemporalTask: ...
@overload
def task(
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: bool = ...,
    max_attempts: int | None = ...,
    timeout: float | None = ...,
) -> Callable[[Callable[..., Any]], TemporalTask]: ...
def task(
    function: Callable[..., Any] | None = None,
    /,
    *,
    priority: int = DEFAULT_TASK_PRIORITY,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
    takes_context: bool = False,
    max_attempts: int | None = None,
    timeout: float | None = None,
) -> TemporalTask | Callable[[Callable[..., Any]], TemporalTask]:
    """Django's `@task`, plus `max_attempts` and `timeout`, under any task backend."""

    def wrapper(func: Callable[..., Any]) -> TemporalTask:
        return TemporalTask(
            func=func,
            priority=priority,
            queue_name=queue_name,
            backend=backend,
            takes_context=takes_context,
            max_attempts=max_attempts,
            timeout=timeout,
        )

    return wrapper(function) if function is not None else wrapper


@dataclass(frozen=True, slots=True, kw_only=True)
class UnavailableTask(TemporalTask):
    """Stands in for a task whose path no longer imports, so its result stays readable.

    Its `module_path` is the task's path; it cannot be enqueued or called.
    """

    def __post_init__(self) -> None:
        pass  # nothing to validate: it is never run

    def enqueue(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise InvalidTask(f"Task {self.module_path!r} no longer imports; it cannot be enqueued.")

    async def aenqueue(self, *args: Any, **kwargs: Any) -> NoReturn:
        self.enqueue()


def _missing(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")

    def missing(*args: Any, **kwargs: Any) -> NoReturn:
        raise ImportError(f"Task path {path!r} does not import.")

    missing.__module__ = module
    missing.__name__ = missing.__qualname__ = name
    return missing


def load_task(
    task_input: RunTaskInput, backend_alias: str, *, placeholder: bool = False
) -> AnyTask:
    """The enqueued `Task`: the module-level task with the options it was enqueued with.

    A path that no longer imports raises `ValueError` (a worker records it as the
    attempt's error), or with `placeholder` gives an `UnavailableTask` (for readers).
    """
    from django_tasks_temporal.timezones import local

    try:
        task = import_string(task_input.task_path)
        if not isinstance(task, Task):
            raise ValueError(f"{task_input.task_path!r} is not a Task.")
    except (ImportError, ValueError) as e:
        if not placeholder:
            if isinstance(e, ValueError):
                raise
            raise ValueError(f"Task path {task_input.task_path!r} does not import.") from e
        return UnavailableTask(
            func=_missing(task_input.task_path),
            priority=task_input.priority,
            queue_name=task_input.queue_name,
            run_after=local(task_input.run_after),
            backend=backend_alias,
            takes_context=task_input.takes_context,
        )
    run_after = local(task_input.run_after)
    if (task.priority, task.queue_name, task.run_after, task.backend) == (
        task_input.priority, task_input.queue_name, run_after, backend_alias
    ):
        return task  # as declared: no copy (and no second validation) needed
    return dataclasses.replace(
        task,
        priority=task_input.priority,
        queue_name=task_input.queue_name,
        run_after=run_after,
        backend=backend_alias,
    )
