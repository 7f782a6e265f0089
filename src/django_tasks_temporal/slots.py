"""One pool of attempt slots for every task queue a worker process serves.

Temporal runs one `Worker` per task queue, each with its own slot limits. Attempts run
as local activities, whose slots are reserved when a workflow schedules one (not ahead
of polling), so one shared supplier bounds them across queues without starving any:
`max_concurrent_activities=1` means one task at a time in the whole process.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)


class SharedSlotSupplier(CustomSlotSupplier):
    """A counting semaphore that Temporal's core may call from any thread."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._lock = threading.Lock()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        self._loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return SlotPermit()
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
        try:
            await waiter  # resolved by _hand_over with the slot already counted as taken
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._hand_over()  # the slot arrived as the reservation was cancelled
            raise
        return SlotPermit()

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return SlotPermit()
        return None

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        pass

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        if self._loop is None or self._loop.is_closed():
            with self._lock:
                self._free += 1
            return
        self._loop.call_soon_threadsafe(self._hand_over)

    def _hand_over(self) -> None:
        """On the loop: give the freed slot to the first live waiter, or free it."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():  # a cancelled reservation gave up its place
                    waiter.set_result(None)
                    return
            self._free += 1
