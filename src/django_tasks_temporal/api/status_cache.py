"""A short-lived, per-process memory of finished tasks' `status/<id>/` answers.

A finished task's record in Temporal does not change, except when it is retried under
its id (`execute/` with allow_retry) or deleted (`purge/`); both invalidate here, and
other processes see the change within TASKS_API_STATUS_CACHE_SECONDS. Dashboards poll
the same ids over and over: each hit saves a history read on the Temporal server.
Open tasks are never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

MAX_ENTRIES = 10_000


class StatusCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, backend: str, task_id: str) -> dict[str, Any] | None:
        key = (backend, task_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, data = entry
            if expires <= time.monotonic():
                del self._entries[key]
                return None
            return data

    def put(self, backend: str, task_id: str, data: dict[str, Any], seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._entries[(backend, task_id)] = (time.monotonic() + seconds, data)
            self._entries.move_to_end((backend, task_id))
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def forget(self, backend: str, task_id: str | None = None) -> None:
        """Drop one task, or every task of a backend (after a purge)."""
        with self._lock:
            if task_id is not None:
                self._entries.pop((backend, task_id), None)
                return
            for key in [k for k in self._entries if k[0] == backend]:
                del self._entries[key]


status_cache = StatusCache()
