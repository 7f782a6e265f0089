"""How many task functions run at once in one worker process (`max_concurrent_activities`).

A body slot is taken when an attempt's function starts and given back only when the
function has returned. A sync function cannot be interrupted: after a timeout or a
cancel its attempt is over, but its thread runs on, and its slot stays taken until it
returns ("abandoned"). The activity slot supplier below makes Temporal poll only for
attempts that can start now: free slots, minus the abandoned bodies. So a worker with
one slot never runs two functions at once, and never takes an attempt it cannot start.

A worker serving several queues runs one Temporal `Worker` (with its own supplier) per
queue. A shared pool of permits cannot work there: each idle poller holds a permit for
its whole long poll and would starve the other queues. So each supplier counts its own
permits, and `BodySlots.acquire` enforces the process-wide limit; an attempt that two
queues deliver at the same moment waits there for a moment (heartbeating).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)


class BodySlots:
    """The process's running task functions; create it on the worker's event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()  # suppliers are called from Temporal's threads
        self._running = 0  # functions running, abandoned ones included
        self._abandoned = 0  # functions still running after their attempt ended
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False  # a stopping worker takes no new attempts

    def close(self) -> None:
        """Take no new attempts (the worker is stopping); running ones go on."""
        self.closed = True
        self.changed()

    @property
    def abandoned(self) -> int:
        return self._abandoned

    async def acquire(self) -> None:
        await self.wait_until(lambda: self._running < self.limit)
        self._running += 1

    def release(self, *, abandoned: bool) -> None:
        """The function returned (call on the event loop)."""
        with self._lock:
            self._running -= 1
            if abandoned:
                self._abandoned -= 1
        self.changed()

    def abandon(self) -> None:
        """The attempt ended while its function runs on (call on the event loop)."""
        with self._lock:
            self._abandoned += 1
        self.changed()

    async def wait_until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter

    def changed(self) -> None:
        """Wake the waiters to look again (safe from any thread)."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._wake()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class AttemptSlotSupplier(CustomSlotSupplier):
    """Activity slots of one Temporal `Worker`: free body slots, minus abandoned bodies."""

    def __init__(self, bodies: BodySlots) -> None:
        self.bodies = bodies
        self._held = 0  # permits this Worker holds: polling, or running an attempt
        self._lock = threading.Lock()

    def _take(self, *, keep_free: int = 0) -> SlotPermit | None:
        with self._lock:
            busy = self._held + self.bodies.abandoned + keep_free
            if self.bodies.closed or busy >= self.bodies.limit:
                return None
            self._held += 1
            return SlotPermit()

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        permit: SlotPermit | None = None

        def take() -> bool:
            nonlocal permit
            permit = self._take()
            return permit is not None

        await self.bodies.wait_until(take)
        assert permit is not None
        return permit

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        # Eager dispatch: the worker that schedules an attempt starts it at once, past the
        # task queue and its priority order. Never for the last free slot: that one goes
        # to the queue's highest-priority task (a one-slot worker is never eager).
        return self._take(keep_free=1)

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        pass

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        with self._lock:
            self._held -= 1
        self.bodies.changed()
