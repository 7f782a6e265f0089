"""Enqueue benchmark: `POST tasks/enqueue/<name>/` with OIDC against the backend's own `enqueue()`.

    uv run python bench/enqueue_bench.py [--requests 1500] [--target HOST:PORT]

The HTTP side: Pub/Sub push envelopes (a new message id each), each with a valid
Google-style ID token, sent by 8 keep-alive client threads to one gunicorn (2 gthread
workers x 4 threads, as bench/http_bench.py), which verifies the token, reads the
envelope and starts the declared task once. The ceiling: `noop.enqueue()` called by 8
threads of this process, the same start with no HTTP and no token. Both start no-op tasks
on a queue no worker serves, so only the start is measured; the two sides alternate in
rounds so that machine noise and the dev server's growing database hit both.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.oidc import CertsServer, claims, signing_key  # noqa: E402

from bench.http_bench import CLIENT_THREADS, ROUNDS, _env, _serve  # noqa: E402
from django_tasks_temporal.devserver import free_port, start_dev_server  # noqa: E402

QUEUE = "enqueue-bench"  # the Django queue both sides start on (bench/http_settings.py)
PATH = "/tasks/enqueue/noop/"


@dataclass(frozen=True)
class EnqueueResult:
    http_rps: float
    direct_rps: float
    errors: int

    @property
    def ratio(self) -> float:
        return self.http_rps / self.direct_rps


def _in_threads(total: int, work: Callable[[int, int], int]) -> tuple[float, int]:
    """Calls per second of `work(thread, count)` in CLIENT_THREADS threads; its failures."""
    per_thread = total // CLIENT_THREADS
    failures = [0] * CLIENT_THREADS
    threads = [
        threading.Thread(target=lambda i=i: failures.__setitem__(i, work(i, per_thread)))
        for i in range(CLIENT_THREADS)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per_thread * CLIENT_THREADS / (time.perf_counter() - started), sum(failures)


def _pushes(port: int, token: str) -> Callable[[int, int], int]:
    def work(thread: int, count: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bad = 0
        for _ in range(count):
            body = json.dumps({
                "message": {
                    "data": base64.b64encode(b"{}").decode(),
                    "messageId": uuid.uuid4().hex,
                    "publishTime": "2026-11-27T13:00:00Z",
                },
                "subscription": "projects/bench/subscriptions/noop",
            })
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            bad += response.status != 202
        connection.close()
        return bad

    return work


def _enqueues() -> Callable[[int, int], int]:
    from bench.tasks import noop

    task = noop.using(queue_name=QUEUE)

    def work(thread: int, count: int) -> int:
        for _ in range(count):
            task.enqueue()
        return 0

    return work


def run_enqueue_bench(target: str, queue: str, requests: int = 1500) -> EnqueueResult:
    """Both rates; this process must have Django set up with a backend on `target`."""
    key = signing_key("bench-enqueue")
    certs = CertsServer(key)
    port = free_port()
    server = _serve(_env(target, queue, certs.url), port)
    try:
        token = key.sign(
            claims(aud="https://bench.test", email="bench@bench.iam.gserviceaccount.com")
        )
        pushes, enqueues = _pushes(port, token), _enqueues()
        errors = _in_threads(80, pushes)[1] + _in_threads(80, enqueues)[1]  # warm up
        http_rates, direct_rates = [], []
        for _ in range(ROUNDS):
            rate, bad = _in_threads(requests // ROUNDS, enqueues)
            direct_rates.append(rate)
            rate, more = _in_threads(requests // ROUNDS, pushes)
            http_rates.append(rate)
            errors += bad + more
        return EnqueueResult(
            http_rps=statistics.median(http_rates),
            direct_rps=statistics.median(direct_rates),
            errors=errors,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        certs.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500, help="per side, over all rounds")
    parser.add_argument("--target", help="an existing Temporal server (default: start one)")
    args = parser.parse_args()
    # As bench/run.py: the dev server's SQLite file in memory, so disk syncs do not dominate.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    db_dir = tempfile.mkdtemp(prefix="bench-enqueue-", dir=shm)
    dev = None if args.target else start_dev_server(db_filename=os.path.join(db_dir, "t.db"))
    target = args.target or (dev.target_host if dev else "")
    queue = f"bench-enqueue-{os.getpid()}"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings", TEMPORAL_TARGET_HOST=target,
        TEMPORAL_TASK_QUEUE=queue,
    )
    import django

    django.setup()
    try:
        result = run_enqueue_bench(target, queue, args.requests)
    finally:
        if dev is not None:
            dev.stop()
        shutil.rmtree(db_dir, ignore_errors=True)
    print(
        f"POST enqueue/<name>/ with OIDC (Pub/Sub push): {result.http_rps:.0f} tasks/s; "
        f"enqueue() from {CLIENT_THREADS} threads of one process: {result.direct_rps:.0f} "
        f"tasks/s; ratio {result.ratio:.2f}x (target >= 0.7x). {result.errors} failures",
        flush=True,
    )
    sys.stdout.flush()
    os._exit(0 if result.errors == 0 and result.ratio >= 0.7 else 1)


if __name__ == "__main__":
    main()
