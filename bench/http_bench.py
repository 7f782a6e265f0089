"""HTTP benchmark: `GET tasks/status/<id>/` with OIDC verified, against a fixed-JSON DRF view.

    uv run python bench/http_bench.py [--requests 2000] [--target HOST:PORT]

Both are served by one gunicorn (2 gthread workers x 4 threads, like a small Cloud Run
instance) with the same settings; the ceiling is a DRF view that returns fixed JSON with
no authentication and no Temporal call. Keep-alive clients in 8 threads send the
requests; the two URLs alternate in rounds so machine noise hits both. Each status
request carries a fresh-looking, valid Google-style ID token, verified against a
loopback certs server (fetched once per cache period, as in production).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.oidc import CertsServer, claims, signing_key  # noqa: E402

from django_tasks_temporal.devserver import (  # noqa: E402
    die_with_parent,
    free_port,
    start_dev_server,
)

CLIENT_THREADS = 8
ROUNDS = 3


@dataclass(frozen=True)
class HttpResult:
    status_rps: float
    fixed_rps: float
    errors: int
    uncached_status_rps: float  # with TASKS_API_STATUS_CACHE_SECONDS = 0
    uncached_fixed_rps: float

    @property
    def ratio(self) -> float:
        return self.status_rps / self.fixed_rps

    @property
    def uncached_ratio(self) -> float:
        return self.uncached_status_rps / self.uncached_fixed_rps


def _env(target: str, queue: str, certs_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.http_settings",
        "TEMPORAL_TARGET_HOST": target,
        "TEMPORAL_TASK_QUEUE": queue,
        "BENCH_CERTS_URL": certs_url,
        "PYTHONPATH": str(ROOT),
    }


def _finished_task(env: dict[str, str]) -> str:
    """Enqueue one no-op task and run it with a worker; return its id."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "django_tasks_temporal.worker"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        script = (
            "import django, time; django.setup()\n"
            "from bench.tasks import noop\n"
            "r = noop.enqueue()\n"
            "deadline = time.monotonic() + 60\n"
            "while not r.is_finished and time.monotonic() < deadline:\n"
            "    time.sleep(0.1); r.refresh()\n"
            "assert r.status == 'SUCCESSFUL', r.status\n"
            "print(r.id, flush=True)\n"
            "import os; os._exit(0)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True,
            text=True, check=True, timeout=120,
        )
        return out.stdout.strip().splitlines()[-1]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _load(port: int, path: str, headers: dict[str, str], total: int) -> tuple[float, int]:
    """Requests per second over keep-alive connections in CLIENT_THREADS threads."""
    errors = 0
    lock = threading.Lock()
    per_thread = total // CLIENT_THREADS

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        bad = 0
        for _ in range(per_thread):
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            bad += response.status != 200
        connection.close()
        with lock:
            errors += bad

    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per_thread * CLIENT_THREADS / (time.perf_counter() - started), errors


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/fixed/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not start")


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            Path(sys.executable).with_name("gunicorn"), "bench.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
            "--worker-class", "gthread", "--log-level", "warning",
        ],
        env=env, cwd=ROOT, preexec_fn=die_with_parent,
    )
    _wait_listening(port, server)
    return server


def _measure(
    env: dict[str, str], status_path: str, headers: dict[str, str], requests: int
) -> tuple[float, float, int]:
    """Median status and fixed rates over ROUNDS alternating rounds on one gunicorn."""
    port = free_port()
    server = _serve(env, port)
    try:
        _load(port, status_path, headers, 200)  # warm up: certs, clients, imports
        _load(port, "/fixed/", {}, 200)
        status_rates, fixed_rates, errors = [], [], 0
        for _ in range(ROUNDS):
            rate, bad = _load(port, status_path, headers, requests // ROUNDS)
            status_rates.append(rate)
            errors += bad
            rate, bad = _load(port, "/fixed/", {}, requests // ROUNDS)
            fixed_rates.append(rate)
            errors += bad
        return statistics.median(status_rates), statistics.median(fixed_rates), errors
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_http_bench(target: str, queue: str, requests: int = 2000) -> HttpResult:
    key = signing_key("bench")
    certs = CertsServer(key)
    env = _env(target, queue, certs.url)
    try:
        task_id = _finished_task(env)
        token = key.sign(
            claims(aud="https://bench.test", email="bench@bench.iam.gserviceaccount.com")
        )
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/tasks/status/{task_id}/"
        status, fixed, errors = _measure(env, path, headers, requests)
        uncached_env = {**env, "BENCH_STATUS_CACHE_SECONDS": "0"}
        uncached, uncached_fixed, more = _measure(uncached_env, path, headers, requests)
        return HttpResult(
            status_rps=status,
            fixed_rps=fixed,
            errors=errors + more,
            uncached_status_rps=uncached,
            uncached_fixed_rps=uncached_fixed,
        )
    finally:
        certs.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per URL, over all rounds")
    parser.add_argument("--target", help="an existing Temporal server (default: start one)")
    args = parser.parse_args()
    dev = None if args.target else start_dev_server()
    target = args.target or (dev.target_host if dev else "")
    try:
        result = run_http_bench(target, f"bench-http-{os.getpid()}", args.requests)
    finally:
        if dev is not None:
            dev.stop()
    print(
        f"GET status/<id>/ with OIDC: {result.status_rps:.0f} req/s; fixed-JSON DRF view: "
        f"{result.fixed_rps:.0f} req/s; ratio {result.ratio:.2f}x (target >= 0.5x). "
        f"With the status cache off: {result.uncached_status_rps:.0f} vs "
        f"{result.uncached_fixed_rps:.0f} req/s = {result.uncached_ratio:.2f}x. "
        f"{result.errors} non-200 responses",
        flush=True,
    )
    sys.stdout.flush()
    os._exit(0 if result.errors == 0 else 1)


if __name__ == "__main__":
    main()
