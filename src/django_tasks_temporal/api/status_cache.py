"""A short-lived, per-process memory of finished tasks' `status/<id>/` answers.

A finished task's record in Temporal does not change, except when it is retried under
its id (`execute/` with allow_retry) or deleted (`purge/`); both invalidate here, and
other processes see the change within TASKS_API_STATUS_CACHE_SECONDS. Dashboards poll
the same ids over and over: each hit saves a history read on the Temporal server.
Open tasks are never cached. The memory is bounded in bytes (a finished task can hold a
return value of almost 2 MiB) and expired answers are dropped as new ones arrive.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any

MAX_BYTES = 32 * 2**20  # of answers, as JSON


class StatusCache:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        # (backend, task id) -> (expires, size, answer), oldest first
        self._entries: OrderedDict[tuple[str, str], tuple[float, int, dict[str, Any]]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes of the answers held (as JSON)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, backend: str, task_id: str) -> dict[str, Any] | None:
        key = (backend, task_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                self._drop(key)
                return None
            return entry[2]

    def put(self, backend: str, task_id: str, data: dict[str, Any], seconds: float) -> None:
        if seconds <= 0:
            return
        size = len(json.dumps(data, default=str))
        if size > self.max_bytes:
            return
        key = (backend, task_id)
        now = time.monotonic()
        with self._lock:
            self._drop(key)
            self._entries[key] = (now + seconds, size, data)
            self._bytes += size
            # The oldest entries expire first (one TTL for all): drop those, then the
            # oldest live ones while over the byte bound.
            while self._entries:
                oldest, (expires, _, _) = next(iter(self._entries.items()))
                if expires > now and self._bytes <= self.max_bytes:
                    break
                self._drop(oldest)

    def forget(self, backend: str, task_id: str | None = None) -> None:
        """Drop one task, or every task of a backend (after a purge)."""
        with self._lock:
            if task_id is not None:
                self._drop((backend, task_id))
                return
            for key in [k for k in self._entries if k[0] == backend]:
                self._drop(key)

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]


status_cache = StatusCache()
