"""Runs that a retry replaced, so that the list counts and shows tasks, not Temporal runs.

Retrying a FAILED task starts a new run under its workflow id, and visibility lists and
counts every run. Only a FAILED task is retried, so a replaced run is always a failed one
(failed, cancelled, terminated or timed out), and a task has at most one run that is not:
its latest. The replaced runs of a selection are therefore found among its failed runs:
every failed run of a task that also has an open or successful run, and all but the
newest failed run of the others. That costs one visibility page per 1,000 failed runs,
plus one per 100 tasks with a failed run.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.tasks import TaskResultStatus

from django_tasks_temporal.operations import TaskOperations, TaskRow

logger = logging.getLogger("django_tasks_temporal.admin")

# Beyond this many failed runs in a selection, the list counts runs (and says so in the log).
MAX_FAILED_RUNS = 10_000
_PAGE_SIZE = 1000
_IDS_PER_QUERY = 100


@dataclass(frozen=True)
class ReplacedRuns:
    """Runs, as (task id, start time of the run), that a later run of the task replaced."""

    runs: frozenset[tuple[str, datetime]] = frozenset()

    def __contains__(self, row: TaskRow) -> bool:
        return (row.id, row.enqueued_at) in self.runs  # a row's enqueued_at: its run's start

    def __len__(self) -> int:
        return len(self.runs)


def _failed_runs(ops: TaskOperations, filters: dict[str, Any]) -> dict[str, list[datetime]]:
    """The start of each failed run, by task id (raises OverflowError past the limit)."""
    query = ops.query(**filters, statuses=[TaskResultStatus.FAILED])
    starts: dict[str, list[datetime]] = defaultdict(list)
    page = ops.list_tasks(query, page_size=_PAGE_SIZE)
    listed = 0
    while True:
        for row in page.rows:
            starts[row.id].append(row.enqueued_at)
        listed += len(page.rows)
        if not page.next_page_token:
            return starts
        if listed >= MAX_FAILED_RUNS:
            raise OverflowError(f"more than {MAX_FAILED_RUNS} failed runs")
        page = ops.list_tasks(query, page_size=_PAGE_SIZE, page_token=page.next_page_token)


def replaced_runs(ops: TaskOperations, filters: dict[str, Any]) -> ReplacedRuns:
    """The runs of the selected tasks that retries replaced."""
    try:
        starts = _failed_runs(ops, filters)
    except OverflowError as e:
        logger.info("Task list: %s match; counting runs, not tasks.", e)
        return ReplacedRuns()
    succeeded: set[str] = set()  # tasks with an open or successful (so latest) run
    for ids in itertools.batched(starts, _IDS_PER_QUERY):
        query = ops.query(**filters, task_ids=ids,
                          statuses=[TaskResultStatus.READY, TaskResultStatus.SUCCESSFUL])
        succeeded |= {row.id for row in ops.list_tasks(query, page_size=_PAGE_SIZE).rows}
    return ReplacedRuns(frozenset(
        (task_id, start)
        for task_id, runs in starts.items()
        for start in (runs if task_id in succeeded else sorted(runs)[:-1])
    ))
