"""A TCP proxy on 127.0.0.1 whose answers can be held back: a slow Temporal server, on cue.

Bytes from the client reach the server at once; bytes back are forwarded `delay`
seconds after they arrived, in order. So with a delay, the server does what it was asked
(creates the workflow) while the client hears nothing until its own deadline passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any


class SlowProxy:
    def __init__(self, target: str) -> None:
        self.target_host, self.target_port = target.rsplit(":", 1)
        self.delay = 0.0
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._started.wait(10), "the proxy did not start"
        assert self._server is not None
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self._started.set()
        self.loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target_host, int(self.target_port)
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, delayed=False),
            self._pipe(up_reader, writer, delayed=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def forward() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()

        forwarding = asyncio.ensure_future(forward())
        try:
            while chunk := await reader.read(65536):
                await queue.put((time.monotonic() + (self.delay if delayed else 0.0), chunk))
        finally:
            await queue.put((0.0, b""))
            with contextlib.suppress(Exception):
                await forwarding
            writer.close()

    def close(self) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            pipes = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> SlowProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
