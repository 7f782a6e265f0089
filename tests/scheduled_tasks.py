"""Tasks for the schedule tests (declared by dotted path in OPTIONS["schedules"])."""

from __future__ import annotations

from django.tasks import task

NOT_A_TASK = "a module-level value that is not a Task"


@task(queue_name="gated")
def on_a_gated_queue() -> None:
    pass


@task(queue_name="reports", priority=40)
def report(name: str) -> str:
    return f"{name} report"
