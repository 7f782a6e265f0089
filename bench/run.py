"""Benchmark django-tasks-temporal against the raw temporalio SDK (the ceiling), as ratios.

    uv run python bench/run.py [--tasks 1000] [--quick] [--rss-only] [--no-http]

One dev server for the whole run; each side gets fresh task queues per phase, and worker
processes (so their RSS can be measured) with the same max_concurrent_activities:

1. sequential enqueue      task.enqueue()            vs  await client.start_workflow()
2. concurrent enqueue      aenqueue() x20 in flight  vs  start_workflow() x20 in flight
3. end-to-end throughput   --tasks no-op tasks backlogged, then one worker drains them
4. sleep tasks             100 x time.sleep(0.1), worker running before the enqueue
5. latency                 enqueue -> finished, one at a time, idle worker
6. get_result              backend.get_result(id)    vs  await handle.describe()
7. worker RSS              idle (2 s after start) and after the end-to-end tasks: the
                           median of 5 samples 0.5 s apart, taken the same way on both
                           sides (--rss-only runs just this and phase 3)
8. HTTP                    GET tasks/status/<id>/ with OIDC verified vs a DRF view of fixed
                           JSON, both on one gunicorn (bench/http_bench.py); the "vs SDK"
                           columns hold status/ and the fixed view there
9. HTTP enqueue            POST tasks/enqueue/<name>/ (Pub/Sub push, OIDC) on that gunicorn
                           vs enqueue() from 8 threads of this process (bench/
                           enqueue_bench.py); the "vs SDK" columns hold the two rates
10. metrics cost           the end-to-end run (3) with the worker's Prometheus endpoint on
                           (--metrics-bind) vs off, interleaved rounds, medians; the "vs SDK"
                           columns hold on and off (--metrics-only runs just this)

Sequential / paired measurements are interleaved between the two sides (in rounds) so
that server drift (its SQLite file grows) does not favour either. Results are printed as
a table and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

RUN = uuid.uuid4().hex[:8]
# Worker RSS, both sides alike: settle, then the median of RSS_SAMPLES readings.
RSS_SETTLE_IDLE = 2.0  # seconds after the worker reports ready
RSS_SETTLE_AFTER = 1.0  # seconds after the last task finished
RSS_SAMPLES = 5
RSS_INTERVAL = 0.5
BACKEND_PREFIX = f"bench-{RUN}"  # Temporal queue of Django queue "x": f"{prefix}.x"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- worker processes -------------------------------------------------------------------


class WorkerProcess:
    """A worker started as its own process; records when it reports being ready."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], marker: str) -> None:
        self.name = name
        self.marker = marker
        self.lines: list[str] = []
        self.ready_at: float | None = None  # time.time() of the ready line
        self._ready = threading.Event()
        from django_tasks_temporal.devserver import die_with_parent

        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.ready_at is None and self.marker in line:
                self.ready_at = time.time()
                self._ready.set()
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = "\n".join(self.lines[-40:])
                raise RuntimeError(f"{self.name} worker did not start:\n{output}")

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def rss_median(self, samples: int = RSS_SAMPLES) -> int:
        """The median of `samples` RSS readings RSS_INTERVAL apart (one reading can catch
        a transient allocation)."""
        readings = []
        for i in range(samples):
            if i:
                time.sleep(RSS_INTERVAL)
            readings.append(self.rss())
        return int(statistics.median(readings))

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self, timeout: float = 45) -> int | None:
        """SIGTERM (graceful), SIGKILL if it does not exit in time; by PID only."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} worker ignored SIGTERM for {timeout}s; killing it")
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=5)
        return self.process.returncode


def child_env(target: str) -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "TEMPORAL_TARGET_HOST": target,
        "TEMPORAL_TASK_QUEUE": BACKEND_PREFIX,
        "PYTHONPATH": pythonpath,
        "PYTHONUNBUFFERED": "1",
    }


def start_backend_worker(
    target: str, queue: str, concurrency: int, extra: Iterable[str] = ()
) -> WorkerProcess:
    return WorkerProcess(
        "backend",
        [
            sys.executable,
            "-m",
            "django_tasks_temporal.worker",
            "--queue",
            queue,
            "--max-concurrent-activities",
            str(concurrency),
            *extra,
        ],
        child_env(target),
        marker=" serving ",
    )


def start_sdk_worker(target: str, task_queue: str, concurrency: int) -> WorkerProcess:
    return WorkerProcess(
        "sdk",
        [
            sys.executable,
            "-m",
            "bench.baseline",
            "--target",
            target,
            "--task-queue",
            task_queue,
            "--max-concurrent-activities",
            str(concurrency),
        ],
        child_env(target),
        marker="READY",
    )


# -- measurement helpers ----------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rounds(total: int, count: int) -> list[int]:
    """Split `total` into `count` near-equal positive parts."""
    count = max(1, min(count, total))
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


async def gather_limited(n: int, limit: int, make: Callable[[], Awaitable[Any]]) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one() -> Any:
        async with semaphore:
            return await make()

    return await asyncio.gather(*(one() for _ in range(n)))


async def wait_completed(client: Any, task_queue: str, n: int, timeout: float) -> None:
    """Poll visibility until `n` workflows on `task_queue` completed (or any failed)."""
    query = f"TaskQueue='{task_queue}' AND ExecutionStatus='Completed'"
    bad = (
        f"TaskQueue='{task_queue}' AND ExecutionStatus!='Completed' AND ExecutionStatus!='Running'"
    )
    deadline = time.monotonic() + timeout
    checks = 0
    while True:
        count = (await client.count_workflows(query)).count
        if count >= n:
            return
        checks += 1
        if checks % 20 == 0 and (await client.count_workflows(bad)).count:
            raise RuntimeError(f"workflows on {task_queue} failed (see the Temporal server)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count}/{n} workflows on {task_queue} completed")
        await asyncio.sleep(0.1)


async def last_close_time(client: Any, task_queue: str) -> float:
    """The latest close time (epoch seconds) of the workflows on a task queue."""
    latest = 0.0
    async for execution in client.list_workflows(f"TaskQueue='{task_queue}'"):
        if execution.close_time is not None:
            latest = max(latest, execution.close_time.timestamp())
    return latest


async def history_length(client: Any, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


# -- results table ----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    unit: str
    backend: float
    sdk: float
    ratio_label: str  # how the ratio is formed
    higher_is_better: bool | None  # for the ratio; None: informational
    bar: float | None = None
    absolute_bar: float | None = None  # the backend's own value must be <= this
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.backend / self.sdk if self.sdk else float("inf")

    @property
    def passed(self) -> bool | None:
        if self.absolute_bar is not None:
            return self.backend <= self.absolute_bar
        if self.bar is None or self.higher_is_better is None:
            return None
        return self.ratio >= self.bar if self.higher_is_better else self.ratio <= self.bar

    def bar_text(self) -> str:
        if self.absolute_bar is not None:
            return f"<= {self.absolute_bar:g} {self.unit}"
        if self.bar is None or self.higher_is_better is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {self.bar:g}x"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "backend": self.backend,
            "sdk": self.sdk,
            "ratio": self.ratio,
            "ratio_is": self.ratio_label,
            "better": None
            if self.higher_is_better is None
            else ("higher" if self.higher_is_better else "lower"),
            "bar": self.bar_text() or None,
            "passed": self.passed,
        }


def fmt(value: float) -> str:
    if value >= 1e5:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(rows: list[Row]) -> None:
    headers = ["metric", "unit", "backend", "raw SDK", "ratio b/s", "better", "bar", "ok"]
    body = [
        [
            r.name,
            r.unit,
            fmt(r.backend),
            fmt(r.sdk),
            f"{r.ratio:.2f}x",
            "" if r.higher_is_better is None else ("higher" if r.higher_is_better else "lower"),
            r.bar_text(),
            {True: "PASS", False: "FAIL", None: ""}[r.passed],
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    numeric = {2, 3, 4}

    def line(cells: Iterable[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        )

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for cells in body:
        print(line(cells))


# -- the benchmark ----------------------------------------------------------------------


def http_rows(target: str, requests: int) -> list[Row]:
    """8: GET status/<id>/ with OIDC vs a fixed-JSON DRF view, one gunicorn (http_bench.py)."""
    from bench.http_bench import run_http_bench

    log("8 HTTP: status/<id>/ with OIDC vs a fixed-JSON DRF view")
    result = run_http_bench(target, f"{BACKEND_PREFIX}-http", requests)
    if result.errors:
        raise RuntimeError(f"the HTTP benchmark saw {result.errors} non-200 responses")
    return [
        Row("8 HTTP status/<id>/ vs fixed JSON", "req/s", result.status_rps, result.fixed_rps,
            "status/fixed", True, 0.5),
        Row("8 HTTP the same, status cache off", "req/s", result.uncached_status_rps,
            result.uncached_fixed_rps, "status/fixed", None),
    ]


def enqueue_rows(target: str, requests: int) -> list[Row]:
    """9: POST enqueue/<name>/ with OIDC vs enqueue() in this process (enqueue_bench.py)."""
    from bench.enqueue_bench import run_enqueue_bench

    log("9 HTTP enqueue: POST enqueue/<name>/ with OIDC vs enqueue() from this process")
    result = run_enqueue_bench(target, f"{BACKEND_PREFIX}-enqueue", requests)
    if result.errors:
        raise RuntimeError(f"the enqueue benchmark saw {result.errors} failed starts")
    return [
        Row("9 HTTP enqueue/<name>/ vs enqueue()", "tasks/s", result.http_rps,
            result.direct_rps, "http/enqueue()", True, 0.7),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="end-to-end no-op tasks")
    parser.add_argument("--enqueue", type=int, default=200, help="enqueues per side (1, 2)")
    parser.add_argument("--sleep-tasks", type=int, default=100)
    parser.add_argument("--latency-tasks", type=int, default=50)
    parser.add_argument("--reads", type=int, default=200, help="get_result/describe calls")
    parser.add_argument("--concurrency", type=int, default=20, help="enqueues in flight (2)")
    parser.add_argument(
        "--max-concurrent-activities",
        type=int,
        default=100,
        help="both workers (Temporal's default; the backend sizes its thread pool to it)",
    )
    parser.add_argument(
        "--long-task", type=float, default=60.0,
        help="seconds of the task whose history is counted (3); 0 skips it",
    )
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument(
        "--rss-only", action="store_true", help="only worker RSS (7) and the end-to-end run (3)"
    )
    parser.add_argument(
        "--db-dir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else None,
        help="where the dev server keeps its SQLite file (default: /dev/shm, so that "
        "disk syncs do not dominate; pass '' for the system temp dir)",
    )
    parser.add_argument(
        "--http-requests", type=int, default=1500, help="per URL or side for the HTTP rows (8, 9)"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP rows (8, 9)")
    parser.add_argument("--metrics-tasks", type=int, default=500, help="per round (10)")
    parser.add_argument("--metrics-rounds", type=int, default=5, help="per side (10)")
    parser.add_argument(
        "--metrics-only", action="store_true", help="only the metrics cost (10)"
    )
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.enqueue, args.sleep_tasks = 200, 50, 40
        args.latency_tasks, args.reads, args.long_task = 20, 50, 5
        args.metrics_tasks, args.metrics_rounds = 200, 1

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["TEMPORAL_TASK_QUEUE"] = BACKEND_PREFIX
    from django_tasks_temporal.devserver import start_dev_server

    started = time.monotonic()
    load_before = os.getloadavg()
    db_dir = tempfile.mkdtemp(prefix="bench-temporal-", dir=args.db_dir or None)
    server = start_dev_server(db_filename=os.path.join(db_dir, "temporal.db"))
    workers: list[WorkerProcess] = []
    try:
        os.environ["TEMPORAL_TARGET_HOST"] = server.target_host
        log(f"dev server on {server.target_host}; backend queues {BACKEND_PREFIX}.*")
        rows, info = Bench(args, server.target_host, workers).run()
        if not args.rss_only and not args.no_http and not args.metrics_only:
            rows += http_rows(server.target_host, args.http_requests)
            rows += enqueue_rows(server.target_host, args.http_requests)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        shutil.rmtree(db_dir, ignore_errors=True)
    info["load average (1 min) before / after"] = (
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    print()
    print(
        f"django-tasks-temporal vs raw temporalio SDK, one dev server, "
        f"max_concurrent_activities={args.max_concurrent_activities} on both workers"
    )
    rows.sort(key=lambda r: int(r.name.split()[0]))
    print_table(rows)
    for key, value in info.items():
        print(f"  {key}: {value}")
    for row in rows:
        if row.name.startswith("10 e2e"):
            verdict = {True: "PASS", False: "FAIL", None: ""}[row.passed]
            print(f"end-to-end throughput with metrics on >= 0.95x off: {row.ratio:.2f}x {verdict}")
    elapsed = time.monotonic() - started
    print(f"total {elapsed:.0f}s")
    Path(args.json).write_text(
        json.dumps(
            {
                "run": RUN,
                "date": datetime.now().astimezone().isoformat(timespec="seconds"),
                "args": vars(args),
                "rows": [r.as_json() for r in rows],
                "info": info,
                "seconds": round(elapsed, 1),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")
    return 0 if all(r.passed is not False for r in rows) else 1


class Bench:
    def __init__(self, args: argparse.Namespace, target: str, workers: list[WorkerProcess]):
        self.args = args
        self.target = target
        self.workers = workers  # every process started, so main() can stop them
        self.loop = asyncio.new_event_loop()  # the raw SDK's loop (main thread)
        self.rows: list[Row] = []
        self.info: dict[str, Any] = {}

    def aw(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    # -- sides --------------------------------------------------------------------------

    def setup(self) -> None:
        import django

        django.setup()
        from django.tasks import task_backends
        from temporalio.client import Client

        from bench import tasks
        from bench.baseline import NOOP, SLEEP, WORKFLOW_NAME, BaselineInput

        self.tasks = tasks
        self.backend = task_backends["default"]
        self.client = self.aw(Client.connect(self.target))
        self.baseline = (WORKFLOW_NAME, BaselineInput, NOOP, SLEEP)
        # The backend's search attributes exist from the dev server's start flags.

    def bq(self, phase: str) -> tuple[str, str]:
        """A fresh backend queue: (Django queue name, Temporal task queue)."""
        return phase, f"{BACKEND_PREFIX}.{phase}"

    def sq(self, phase: str) -> str:
        return f"sdk-{RUN}.{phase}"

    def b_task(self, queue: str, kind: str = "noop") -> Any:
        return getattr(self.tasks, kind).using(queue_name=queue)

    async def s_start(self, task_queue: str, kind: str = "noop") -> Any:
        name, Input, noop, sleep = self.baseline
        payload = Input(noop) if kind == "noop" else Input(sleep, 0.1)
        return await self.client.start_workflow(
            name, payload, id=str(uuid.uuid4()), task_queue=task_queue
        )

    def start_workers(self, b_queue: str, s_queue: str) -> tuple[WorkerProcess, WorkerProcess]:
        n = self.args.max_concurrent_activities
        bw = start_backend_worker(self.target, b_queue, n)
        sw = start_sdk_worker(self.target, s_queue, n)
        self.workers += [bw, sw]
        bw.wait_ready()
        sw.wait_ready()
        return bw, sw

    # -- phases -------------------------------------------------------------------------

    def run(self) -> tuple[list[Row], dict[str, Any]]:
        self.setup()
        if self.args.metrics_only:
            self.metrics_overhead()
            return self.rows, self.info
        if self.args.rss_only:
            bw, sw = self.start_workers(self.bq("idle")[0], self.sq("idle"))
            self.measure_idle_rss(bw, sw)
            for w in (bw, sw):
                w.stop()
            self.end_to_end()
            return self.rows, self.info
        self.warm_up()
        self.sequential_enqueue()
        self.concurrent_enqueue()
        finished = self.live_worker_phases()
        self.get_result_latency(*finished)
        self.end_to_end()
        self.metrics_overhead()
        return self.rows, self.info

    def metrics_overhead(self) -> None:
        """9: end-to-end no-op throughput with the worker's metrics endpoint on vs off."""
        from django_tasks_temporal.devserver import free_port

        n, rounds = self.args.metrics_tasks, self.args.metrics_rounds
        log(f"10. metrics cost: {n} no-op tasks per run, {rounds} round(s) of off and on")
        rates: dict[str, list[float]] = {"off": [], "on": [], "warm-up": []}
        cpu: dict[str, list[float]] = {"off": [], "on": [], "warm-up": []}
        # A first run on a fresh server is slower whatever it measures: not counted.
        sides = [("warm-up", 0)] + [
            (side, r)
            for r in range(rounds)
            for side in (("off", "on") if r % 2 == 0 else ("on", "off"))
        ]
        for side, r in sides:
            queue, tq = self.bq(f"metrics-{side}-{r}")
            self.aw(gather_limited(n, self.args.concurrency, self.b_task(queue).aenqueue))
            extra = ["--metrics-bind", f"127.0.0.1:{free_port()}"] if side == "on" else []
            worker = start_backend_worker(
                self.target, queue, self.args.max_concurrent_activities, extra
            )
            self.workers.append(worker)
            worker.wait_ready()
            cpu_ready = worker.cpu_seconds()
            self.aw(wait_completed(self.client, tq, n, timeout=240))
            cpu[side].append((worker.cpu_seconds() - cpu_ready) * 1000 / n)
            assert worker.ready_at is not None
            seconds = self.aw(last_close_time(self.client, tq)) - worker.ready_at
            worker.stop()
            rates[side].append(n / seconds)
            log(f"   metrics {side}: {n / seconds:.0f} tasks/s, {cpu[side][-1]:.1f} ms CPU/task")
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        self.rows.append(
            Row(f"10 e2e no-op x{n}, metrics on vs off", "tasks/s", on, off, "on/off", True, 0.95)
        )
        self.rows.append(
            Row("10 worker CPU per task, metrics on vs off", "ms", statistics.median(cpu["on"]),
                statistics.median(cpu["off"]), "on/off", False)
        )

    def warm_up(self) -> None:
        queue, _ = self.bq("warmup")
        task = self.b_task(queue)
        for _ in range(10):
            task.enqueue()
            self.aw(self.s_start(self.sq("warmup")))

    def sequential_enqueue(self) -> None:
        n = self.args.enqueue
        log(f"1. sequential enqueue: {n} per side, no worker")
        task = self.b_task(self.bq("seq")[0])
        s_queue = self.sq("seq")
        b_time = s_time = 0.0

        async def sdk(k: int) -> float:
            t0 = time.perf_counter()
            for _ in range(k):
                await self.s_start(s_queue)
            return time.perf_counter() - t0

        for k in rounds(n, 4):
            t0 = time.perf_counter()
            for _ in range(k):
                task.enqueue()
            b_time += time.perf_counter() - t0
            s_time += self.aw(sdk(k))
        self.rows.append(
            Row("1 sequential enqueue", "tasks/s", n / b_time, n / s_time, "b/s", True, 0.8)
        )

    def concurrent_enqueue(self) -> None:
        n, limit = self.args.enqueue, self.args.concurrency
        log(f"2. concurrent enqueue: {n} per side, {limit} in flight")
        task = self.b_task(self.bq("conc")[0])
        s_queue = self.sq("conc")
        b_time = s_time = 0.0
        for k in rounds(n, 2):
            t0 = time.perf_counter()
            self.aw(gather_limited(k, limit, task.aenqueue))
            b_time += time.perf_counter() - t0
            t0 = time.perf_counter()
            self.aw(gather_limited(k, limit, lambda: self.s_start(s_queue)))
            s_time += time.perf_counter() - t0
        self.rows.append(
            Row(f"2 concurrent enqueue (x{limit})", "tasks/s", n / b_time, n / s_time, "b/s", True)
        )

    def live_worker_phases(self) -> tuple[str, str]:
        """Idle RSS, latency (5) and sleep tasks (4) on workers started before enqueueing."""
        b_queue, b_tq = self.bq("live")
        s_tq = self.sq("live")
        bw, sw = self.start_workers(b_queue, s_tq)
        self.measure_idle_rss(bw, sw)

        n = self.args.latency_tasks
        log(f"5. enqueue-to-finished latency: {n} sequential tasks per side (interleaved)")
        task = self.b_task(b_queue)
        b_lat: list[float] = []
        s_lat: list[float] = []

        async def sdk_one() -> tuple[float, str]:
            t0 = time.perf_counter()
            handle = await self.s_start(s_tq)
            await handle.result()
            return time.perf_counter() - t0, handle.id

        b_id = s_id = ""
        for _ in range(n):
            t0 = time.perf_counter()
            result = task.enqueue()
            self.aw(self.client.get_workflow_handle(result.id).result())
            b_lat.append(time.perf_counter() - t0)
            b_id = result.id
            elapsed, s_id = self.aw(sdk_one())
            s_lat.append(elapsed)
        self.rows.append(
            Row(
                "5 latency p50",
                "ms",
                statistics.median(b_lat) * 1000,
                statistics.median(s_lat) * 1000,
                "b/s",
                False,
                1.1,
            )
        )
        self.rows.append(
            Row("5 latency p95", "ms", pct(b_lat, 95) * 1000, pct(s_lat, 95) * 1000, "b/s", False)
        )

        n = self.args.sleep_tasks
        limit = self.args.concurrency
        log(f"4. {n} sleep(0.1) tasks per side, worker already running")
        sleeper = self.b_task(b_queue, "sleep")

        async def b_sleep() -> Any:
            return await sleeper.aenqueue(0.1)

        async def timed(enqueue: Callable[[], Awaitable[Any]], tq: str, already: int) -> float:
            t0 = time.time()
            await gather_limited(n, limit, enqueue)
            await wait_completed(self.client, tq, already + n, timeout=120)
            return await last_close_time(self.client, tq) - t0

        b_time = self.aw(timed(b_sleep, b_tq, self.args.latency_tasks))
        s_time = self.aw(timed(lambda: self.s_start(s_tq, "sleep"), s_tq, self.args.latency_tasks))
        self.rows.append(
            Row(
                f"4 sleep(0.1) x{n} throughput", "tasks/s", n / b_time, n / s_time, "b/s", True, 0.9
            )
        )
        if self.args.long_task:
            self.long_task_history(b_queue, s_tq)
        for w in (bw, sw):
            code = w.stop()
            if code != 0:
                log(f"{w.name} worker exited with {code}")
        return b_id, s_id

    def long_task_history(self, b_queue: str, s_tq: str) -> None:
        """History events of one task whose attempt runs `--long-task` seconds, both sides
        at once: heartbeats are not events, so as many as for a no-op task."""
        seconds = self.args.long_task
        log(f"3. history of a {seconds:g} s task, both sides at once")
        name, Input, _, sleep = self.baseline
        b_id = self.b_task(b_queue, "sleep").enqueue(seconds).id

        async def sdk() -> str:
            handle = await self.client.start_workflow(
                name, Input(sleep, seconds), id=str(uuid.uuid4()), task_queue=s_tq
            )
            await handle.result()
            return handle.id

        s_id = self.aw(sdk())
        self.aw(self.client.get_workflow_handle(b_id).result())
        b_events = self.aw(history_length(self.client, b_id))
        s_events = self.aw(history_length(self.client, s_id))
        self.rows.append(
            Row(f"3 history events, a {seconds:g} s task", "events", b_events, s_events,
                "b/s", False, absolute_bar=15)
        )

    def measure_idle_rss(self, bw: WorkerProcess, sw: WorkerProcess) -> None:
        time.sleep(RSS_SETTLE_IDLE)
        readings: tuple[list[int], list[int]] = ([], [])
        for i in range(RSS_SAMPLES):  # interleaved, so both sides see the same moments
            if i:
                time.sleep(RSS_INTERVAL)
            readings[0].append(bw.rss())
            readings[1].append(sw.rss())
        b_idle, s_idle = (int(statistics.median(r)) for r in readings)
        self.idle_rss = (b_idle, s_idle)
        log(f"idle worker RSS: backend {b_idle / 2**20:.1f} MiB, sdk {s_idle / 2**20:.1f} MiB")

    def get_result_latency(self, b_id: str, s_id: str) -> None:
        n = self.args.reads
        log(f"6. reading a finished task: {n} get_result() vs {n} describe()")
        from django.tasks import TaskResultStatus

        status = self.backend.get_result(b_id).status
        assert status == TaskResultStatus.SUCCESSFUL, status
        handle = self.client.get_workflow_handle(s_id)
        b_lat: list[float] = []
        s_lat: list[float] = []

        async def describe(k: int) -> None:
            for _ in range(k):
                t0 = time.perf_counter()
                await handle.describe()
                s_lat.append(time.perf_counter() - t0)

        for k in rounds(n, 4):
            for _ in range(k):
                t0 = time.perf_counter()
                self.backend.get_result(b_id)
                b_lat.append(time.perf_counter() - t0)
            self.aw(describe(k))
        self.rows.append(
            Row(
                "6 get_result vs describe p50",
                "ms",
                statistics.median(b_lat) * 1000,
                statistics.median(s_lat) * 1000,
                "b/s",
                False,
                2.0,
            )
        )

    def end_to_end(self) -> None:
        n = self.args.tasks
        limit = self.args.concurrency
        results: dict[str, tuple[float, int, int, float]] = {}
        # The raw SDK goes first: the server's SQLite file only grows during the run.
        for side in ("sdk", "backend"):
            log(f"3. end-to-end: {n} no-op tasks on the {side} side (backlog, then a worker)")
            if side == "backend":
                queue, tq = self.bq("e2e")
                task = self.b_task(queue)
                handles = self.aw(gather_limited(n, limit, task.aenqueue))
                first_id = handles[0].id
                worker = start_backend_worker(
                    self.target, queue, self.args.max_concurrent_activities
                )
            else:
                tq = self.sq("e2e")
                handles = self.aw(gather_limited(n, limit, partial(self.s_start, tq)))
                first_id = handles[0].id
                worker = start_sdk_worker(self.target, tq, self.args.max_concurrent_activities)
            self.workers.append(worker)
            worker.wait_ready()
            cpu_ready = worker.cpu_seconds()
            self.aw(wait_completed(self.client, tq, n, timeout=240))
            cpu_ms = (worker.cpu_seconds() - cpu_ready) * 1000 / n
            time.sleep(RSS_SETTLE_AFTER)
            rss_after = worker.rss_median()
            assert worker.ready_at is not None
            seconds = self.aw(last_close_time(self.client, tq)) - worker.ready_at
            events = self.aw(history_length(self.client, first_id))
            code = worker.stop()
            if code != 0:
                log(f"{side} worker exited with {code}")
            results[side] = (seconds, rss_after, events, cpu_ms)
            log(
                f"   {n / seconds:.0f} tasks/s, {cpu_ms:.1f} ms worker CPU/task, "
                f"{events} history events/task, RSS after {rss_after / 2**20:.1f} MiB"
            )
        (b_s, b_rss, b_ev, b_cpu), (s_s, s_rss, s_ev, s_cpu) = results["backend"], results["sdk"]
        b_idle, s_idle = self.idle_rss
        self.rows += [
            Row(f"3 e2e no-op x{n} throughput", "tasks/s", n / b_s, n / s_s, "b/s", True, 1.0),
            Row("3 worker CPU per task", "ms", b_cpu, s_cpu, "b/s", False),
            Row("3 history events, a no-op task", "events", b_ev, s_ev, "b/s", False,
                absolute_bar=15),
            Row("7 worker RSS idle", "MiB", b_idle / 2**20, s_idle / 2**20, "b/s", False, 1.2),
            Row(
                f"7 worker RSS after {n} tasks",
                "MiB",
                b_rss / 2**20,
                s_rss / 2**20,
                "b/s",
                False,
                1.2,
            ),
            Row(
                "7 RSS growth per task",
                "bytes",
                (b_rss - b_idle) / n,
                (s_rss - s_idle) / n,
                "b/s",
                None,
            ),
        ]
        self.info["rss note"] = (
            f"median of {RSS_SAMPLES} readings {RSS_INTERVAL:g} s apart, both sides alike: "
            f"idle from {RSS_SETTLE_IDLE:g} s after start, before any task; 'after' "
            f"from {RSS_SETTLE_AFTER:g} s after the last task on a fresh worker of the same "
            "command that drained the e2e backlog"
        )


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # temporalio can SIGSEGV at interpreter exit (sdk-python#300)
