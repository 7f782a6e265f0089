"""The worker's health probe: HTTP on a port, for Kubernetes, Cloud Run or a load balancer.

`run_temporal_worker --health-bind HOST:PORT` answers from a thread of its own:

- `GET /healthz` (or `/readyz`): 200 while the worker polls its queues and its last
  check of the Temporal server passed (every `CHECK_INTERVAL` seconds, each bounded by
  `CHECK_TIMEOUT`), 503 otherwise: before it polls, and within seconds of losing the
  server. It recovers by itself once the server answers again.
- `GET /livez`: 200 while the worker's event loop runs its checks (a hung loop is 503),
  whether or not the server answers: restarting a worker does not bring a server back.

The port opens before the worker connects, so a start-up probe on it passes early.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from temporalio.client import Client

from django_tasks_temporal.exceptions import WorkerConfigurationError
from django_tasks_temporal.options import parse_bind_address

logger = logging.getLogger("django_tasks_temporal.worker")

CHECK_INTERVAL = 2.0  # seconds between two checks of the server
CHECK_TIMEOUT = 3.0  # one check gives up after this long
LIVE_SECONDS = 3 * (CHECK_INTERVAL + CHECK_TIMEOUT)  # a loop silent this long is hung


class HealthProbe:
    """What the probe answers: written on the worker's loop, read by the HTTP thread."""

    def __init__(self, bind: str) -> None:
        host, port = parse_bind_address(bind)
        self.polling = False  # every queue is being polled
        self.reachable = False  # the last check of the server passed
        self.checked_at = time.monotonic()  # the loop's last check, passed or not
        try:
            self.server = _Server((host, port), _Handler)
        except OSError as e:
            reason = "the address is in use" if "in use" in str(e) else str(e)
            raise WorkerConfigurationError(
                f"Cannot serve the health probe on {bind!r}: {reason}."
            ) from e
        self.server.probe = self
        threading.Thread(
            target=self.server.serve_forever, name="health-probe", daemon=True
        ).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def ready(self) -> bool:
        return self.polling and self.reachable and self.alive()

    def alive(self) -> bool:
        return time.monotonic() - self.checked_at < LIVE_SECONDS

    async def watch(self, client: Client) -> None:
        """Check the server every CHECK_INTERVAL seconds until cancelled."""
        while True:
            reachable = await _server_answers(client)
            if reachable != self.reachable and self.polling:
                if reachable:
                    logger.info("Health: the Temporal server answers again")
                else:
                    logger.warning("Health: the Temporal server does not answer")
            self.reachable = reachable
            self.checked_at = time.monotonic()
            await asyncio.sleep(CHECK_INTERVAL)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _server_answers(client: Client) -> bool:
    try:
        return await asyncio.wait_for(
            client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT)),
            CHECK_TIMEOUT + 0.5,
        )
    except Exception:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    probe: HealthProbe


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        probe = self.server.probe
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/healthz", "/readyz"):
            ok = probe.ready()
        elif path == "/livez":
            ok = probe.alive()
        else:
            self._answer(404, {"detail": "Try /healthz, /readyz or /livez."})
            return
        body = {"status": "ok" if ok else "unavailable", "polling": probe.polling,
                "server_reachable": probe.reachable}
        self._answer(200 if ok else 503, body)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # probes every few seconds would drown the task log
