"""Chaos figures for the execution model (issue 10): killed workers and a server outage.

    uv run python bench/chaos.py [--tasks 500] [--heartbeat-timeout 5]

One dev server, 3 worker processes. Every task logs each run of its body (start, end) in
a file of its own, so the figures come from what really ran, not from what was recorded:

A. one worker SIGKILLed 3 times mid-run (and started again each time);
B. the server stopped for 10 s mid-run and started again on its file.

Printed per phase: tasks not SUCCESSFUL ("lost"), tasks whose bodies overlapped
("concurrent"), bodies run more than once, attempts recorded as WorkerLost and how many
of them named a worker that was alive, and after each kill how long until the cut-short
tasks ran again. Not a timed test: figures for the README.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import WorkerProcess, child_env, log  # noqa: E402

RUN = uuid.uuid4().hex[:8]
SLOTS = 20  # per worker: room for the re-runs of a killed worker's attempts
RATE = 20.0  # tasks enqueued per second: about 35 bodies run at once, for 25 s
PREFIX = f"chaos-{RUN}"


# pid -> when it was SIGKILLed: a body that was running in it ended then.
KILLED: dict[int, float] = {}


def runs(path: Path) -> list[tuple[float, float | None]]:
    """(start, end) of each run of a task's body, from its log; the end is None while it
    runs, and the kill time for a body whose worker was killed."""
    found: list[tuple[float, float | None]] = []
    for line in path.read_text().splitlines() if path.exists() else []:
        if len(line.split()) != 3:
            continue  # a line the body is writing right now
        kind, at, pid = line.split()
        if kind == "start":
            found.append((float(at), KILLED.get(int(pid))))
        else:
            found[-1] = (found[-1][0], float(at))
    return found


def overlapped(bodies: list[tuple[float, float | None]]) -> bool:
    """Whether a run of the body began before the previous one ended."""
    pairs = itertools.pairwise(bodies)
    return any(end is None or end > start for (_, end), (start, _) in pairs)


def completed(path: Path) -> int:
    """Runs of the body that reached their end (not cut short by a kill)."""
    return sum(line.startswith("end ") for line in path.read_text().splitlines())


def start_worker(target: str, name: str) -> WorkerProcess:
    worker = WorkerProcess(
        name,
        [sys.executable, "-m", "django_tasks_temporal.worker", "--identity", name,
         "--max-concurrent-activities", str(SLOTS)],
        child_env(target) | {"TEMPORAL_TASK_QUEUE": PREFIX},
        marker=" serving ",
    )
    worker.wait_ready()
    return worker


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.logs = Path(tempfile.mkdtemp(prefix="chaos-logs-"))
        self.db_dir = tempfile.mkdtemp(prefix="chaos-temporal-", dir="/dev/shm")
        self.db = os.path.join(self.db_dir, "temporal.db")
        from django_tasks_temporal.devserver import free_port

        self.port = free_port()
        self.server = self.start_server()
        self.target = self.server.target_host
        os.environ.update(
            TEMPORAL_TARGET_HOST=self.target,
            TEMPORAL_TASK_QUEUE=PREFIX,
            BENCH_HEARTBEAT_TIMEOUT=str(args.heartbeat_timeout),
            DJANGO_SETTINGS_MODULE="bench.settings",
        )
        import django

        django.setup()
        from django.tasks import task_backends

        from bench import tasks

        self.backend = task_backends["default"]
        self.tasks = tasks
        self.workers = [start_worker(self.target, f"w{i}") for i in range(3)]
        self.enqueueing = threading.Lock()

    def start_server(self):  # type: ignore[no-untyped-def]
        from django_tasks_temporal.devserver import start_dev_server

        return start_dev_server(port=self.port, db_filename=self.db)

    def enqueue(self, phase: str) -> tuple[dict[str, Path], threading.Thread]:
        """Enqueue the phase's tasks at RATE per second, in the background."""
        rng = random.Random(phase)
        ids: dict[str, Path] = {}

        def produce() -> None:
            started = time.monotonic()
            for i in range(self.args.tasks):
                time.sleep(max(0.0, started + i / RATE - time.monotonic()))
                path = self.logs / f"{phase}-{i}"
                with self.enqueueing:  # held by the outage: no enqueue while the server is down
                    task = self.tasks.chaos_body
                    ids[task.enqueue(str(path), rng.uniform(0.5, 3.0)).id] = path

        producer = threading.Thread(target=produce)
        producer.start()
        return ids, producer

    def wait_all(self, ids: dict[str, Path], timeout: float = 600) -> dict[str, object]:
        from django_tasks_temporal import wait_result

        deadline = time.monotonic() + timeout
        results = {}
        for task_id in ids:
            remaining = max(1.0, deadline - time.monotonic())
            results[task_id] = wait_result(self.backend.get_result(task_id), timeout=remaining)
        return results

    def report(self, phase: str, ids: dict[str, Path], results: dict[str, object],
               alive: set[str]) -> None:
        lost = sum(str(r.status) != "SUCCESSFUL" for r in results.values())  # type: ignore[attr-defined]
        bodies = {i: runs(p) for i, p in ids.items()}
        concurrent = sum(overlapped(b) for b in bodies.values())
        twice = sum(completed(p) > 1 for p in ids.values())
        worker_lost = [
            (task_id, w)
            for task_id, r in results.items()
            for e, w in zip(r.errors, r.worker_ids, strict=False)  # type: ignore[attr-defined]
            if e.exception_class_path.endswith("WorkerLost")
        ]
        blamed_alive = sum(w in alive for _, w in worker_lost)
        log(
            f"{phase}: {len(ids)} tasks; lost {lost}; concurrent {concurrent}; "
            f"bodies run twice {twice}; WorkerLost recorded {len(worker_lost)}, "
            f"of them on live workers {blamed_alive}"
        )

    def kills(self) -> None:
        log(f"A. {self.args.tasks} tasks, 3 workers, w0 SIGKILLed 3 times")
        ids, producer = self.enqueue("kill")
        rerun_delays: list[float] = []
        victim = self.workers[0]
        for round_ in range(3):
            time.sleep(5)
            killed_at = time.time()
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.process.wait()
            KILLED[victim.process.pid] = killed_at
            cut_short = [
                p for p in ids.values() if (b := runs(p)) and b[-1][1] == killed_at
            ]
            victim = start_worker(self.target, f"w0-{round_ + 1}")
            self.workers[0] = victim
            rerun_delays += self.rerun_delays(cut_short, killed_at)
        producer.join()
        results = self.wait_all(ids)
        alive = {w.name for w in self.workers[1:]}
        self.report("A kills", ids, results, alive)
        if rerun_delays:
            log(
                f"   re-run after a kill: max {max(rerun_delays):.1f} s, "
                f"median {sorted(rerun_delays)[len(rerun_delays) // 2]:.1f} s "
                f"(heartbeat_timeout {self.args.heartbeat_timeout:g} s; bar: +5 s)"
            )

    def rerun_delays(self, open_bodies: list[Path], killed_at: float) -> list[float]:
        """For bodies that died with the worker: seconds until the task's next start."""
        delays = []
        deadline = time.time() + self.args.heartbeat_timeout + 30
        pending = list(open_bodies)
        while pending and time.time() < deadline:
            for path in list(pending):
                bodies = runs(path)
                if bodies[-1][0] > killed_at:
                    delays.append(bodies[-1][0] - killed_at)
                    pending.remove(path)
            time.sleep(0.05)
        return delays

    def outage(self) -> None:
        log(f"B. {self.args.tasks} tasks, 3 workers, the server down for 10 s mid-run")
        ids, producer = self.enqueue("outage")
        time.sleep(8)
        with self.enqueueing:  # the producer waits: this measures the workers, not enqueue
            self.server.stop()
            time.sleep(10)
            self.server = self.start_server()
        producer.join()
        results = self.wait_all(ids)
        self.report("B outage", ids, results, {w.name for w in self.workers})

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.server.stop()
        shutil.rmtree(self.db_dir, ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--heartbeat-timeout", type=float, default=5.0)
    args = parser.parse_args()
    chaos = Chaos(args)
    try:
        chaos.kills()
        chaos.outage()
    finally:
        chaos.close()
    return 0


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        os._exit(code)  # temporalio can SIGSEGV at interpreter exit (sdk-python#300)
