"""Burst mode, measured: a backlog drained by `--burst`, and many runs' exit codes.

    uv run python bench/burst.py [--tasks 200] [--idle 5] [--runs 20] [--per-run 10]

1. `--tasks` no-op tasks are queued, then one `--burst --idle S` worker drains them:
   its wall time (start to exit) against the drain time (start to the last task's end)
   plus the idle time plus 3 s.
2. `--runs` times: `--per-run` tasks queued, a burst worker started, its exit code kept.
   A negative code is a signal (the SIGSEGV at interpreter exit that the worker's
   `os._exit` avoids): the bar is none.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def burst(queue: str, idle: float) -> tuple[int, float, str]:
    """Run one burst worker on `queue`; (exit code, wall seconds, output)."""
    began = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "django_tasks_temporal.worker", "--burst", "--idle", f"{idle:g}",
         "--queue", queue],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, time.time() - began, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--per-run", type=int, default=10)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["TEMPORAL_TASK_QUEUE"] = f"burst-{uuid.uuid4().hex[:8]}"
    from django_tasks_temporal.devserver import start_dev_server

    server = start_dev_server()
    os.environ["TEMPORAL_TARGET_HOST"] = server.target_host
    try:
        import django

        django.setup()
        from django.tasks import TaskResultStatus, task_backends

        from bench import tasks

        backend = task_backends["default"]
        queue = "drain"
        ids = [tasks.noop.using(queue_name=queue).enqueue().id for _ in range(args.tasks)]
        began = time.time()
        code, wall, output = burst(queue, args.idle)
        results = [backend.get_result(i) for i in ids]
        succeeded = sum(r.status == TaskResultStatus.SUCCESSFUL for r in results)
        last = max(datetime.timestamp(r.finished_at) for r in results if r.finished_at)
        drain = last - began
        bar = drain + args.idle + 3
        print(f"1. {args.tasks} tasks: {succeeded} SUCCESSFUL, exit {code}, drained in "
              f"{drain:.1f} s, exited after {wall:.1f} s (bar {bar:.1f} s): "
              f"{'PASS' if code == 0 and succeeded == args.tasks and wall <= bar else 'FAIL'}")
        codes: Counter[int] = Counter()
        walls = []
        for run in range(args.runs):
            queue = f"run{run}"
            for _ in range(args.per_run):
                tasks.noop.using(queue_name=queue).enqueue()
            code, wall, output = burst(queue, 1)
            codes[code] += 1
            walls.append(wall)
            if code != 0:
                print(f"   run {run}: exit {code}\n{output[-2000:]}")
        signalled = sum(n for code, n in codes.items() if code < 0)
        print(f"2. {args.runs} burst runs: exit codes {dict(codes)}, {signalled} ended by a "
              f"signal, {min(walls):.1f}-{max(walls):.1f} s each: "
              f"{'PASS' if signalled == 0 and set(codes) == {0} else 'FAIL'}")
        return 0 if signalled == 0 and set(codes) == {0} else 1
    finally:
        server.stop()


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
