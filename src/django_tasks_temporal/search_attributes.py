"""The custom search attributes this backend sets on each task's workflow.

Django-free: imported by the workflow sandbox, the worker and the dev server alike.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_PATH = SearchAttributeKey.for_keyword("DjangoTaskPath")
TASK_PRIORITY = SearchAttributeKey.for_int("DjangoTaskPriority")
TASK_BACKEND = SearchAttributeKey.for_keyword("DjangoTaskBackend")

# Name -> the type name used by `temporal operator search-attribute create --type`.
SEARCH_ATTRIBUTES = {
    TASK_PATH.name: "Keyword",
    TASK_PRIORITY.name: "Int",
    TASK_BACKEND.name: "Keyword",
}
