"""The custom search attributes this backend sets on each task's workflow.

Django-free: imported by the workflow sandbox, the worker and the dev server alike.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_PATH = SearchAttributeKey.for_keyword("DjangoTaskPath")
TASK_PRIORITY = SearchAttributeKey.for_int("DjangoTaskPriority")
TASK_BACKEND = SearchAttributeKey.for_keyword("DjangoTaskBackend")
# Set only on tasks of trigger-gated queues: WAITING until a trigger releases them, then
# RELEASED (upserted by the workflow), so `run/` and `run-one/` can find what waits.
TASK_STATE = SearchAttributeKey.for_keyword("DjangoTaskState")
WAITING = "WAITING"
RELEASED = "RELEASED"
# Set on the Temporal Schedules a backend owns (with TASK_BACKEND): the hash of what the
# schedule was built from, so a sync finds what changed from one list call.
SCHEDULE_HASH = SearchAttributeKey.for_keyword("DjangoScheduleHash")

# Name -> the type name used by `temporal operator search-attribute create --type`.
SEARCH_ATTRIBUTES = {
    TASK_PATH.name: "Keyword",
    TASK_PRIORITY.name: "Int",
    TASK_BACKEND.name: "Keyword",
    TASK_STATE.name: "Keyword",
    SCHEDULE_HASH.name: "Keyword",
}


def create_command(namespace: str = "default") -> str:
    """The CLI command that registers every attribute (for error messages and the README)."""
    flags = " ".join(f"--name {name} --type {kind}" for name, kind in SEARCH_ATTRIBUTES.items())
    return f"temporal operator search-attribute create --namespace {namespace} {flags}"
