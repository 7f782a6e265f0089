"""Benchmark: `sync_temporal_schedules` with 100 declared schedules and nothing changed.

    uv run python bench/schedules.py [--schedules 100] [--runs 5]

Starts its own dev server, declares the schedules in OPTIONS["schedules"], syncs once
(creating them), waits until Temporal's list shows every one with its hash (the list is
eventually consistent), then times `--runs` syncs that find nothing to do and counts the
Temporal calls each one makes. The bar: one list call, no per-schedule call, under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def counting(client: Any, calls: Counter[str]) -> None:
    """Count every RPC the client makes, by name."""
    service = client.service_client
    rpc_call = service._rpc_call

    async def counted(rpc: str, *args: Any, **kwargs: Any) -> Any:
        calls[rpc] += 1
        return await rpc_call(rpc, *args, **kwargs)

    service._rpc_call = counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import django
    from django.tasks import task_backends
    from django.test import override_settings

    from django_tasks_temporal import client as temporal
    from django_tasks_temporal.devserver import start_dev_server
    from django_tasks_temporal.schedules import ScheduleOperations

    django.setup()
    schedules = {
        f"report-{i:03}": {"task": "bench.tasks.sleep", "cron": f"{i % 60} {i % 24} * * *",
                           "time_zone": "Europe/Warsaw", "kwargs": {"seconds": i / 1000}}
        for i in range(args.schedules)
    }
    server = start_dev_server()
    try:
        tasks = {"default": {
            "BACKEND": "django_tasks_temporal.TemporalTaskBackend",
            "OPTIONS": {"target_host": server.target_host, "task_queue": "bench-schedules",
                        "schedules": schedules},
        }}
        with override_settings(TASKS=tasks):
            ops = ScheduleOperations(task_backends["default"])
            started = time.monotonic()
            print(ops.sync().summary(), f"in {time.monotonic() - started:.2f}s (first sync)")
            deadline = time.monotonic() + 120
            while ops.sync(dry_run=True).counts["unchanged"] < args.schedules:
                if time.monotonic() > deadline:
                    print("Temporal's list did not show every schedule within 120 s.")
                    return 1
                time.sleep(0.5)
            calls: Counter[str] = Counter()
            temporal.call(ops.config, lambda c: _count(c, calls))
            durations = []
            for _ in range(args.runs):
                started = time.monotonic()
                report = ops.sync()
                durations.append(time.monotonic() - started)
                assert report.counts["unchanged"] == args.schedules, report.summary()
            per_sync = {rpc: count / args.runs for rpc, count in sorted(calls.items())}
            print(f"sync of {args.schedules} unchanged schedules: median "
                  f"{statistics.median(durations):.3f}s, max {max(durations):.3f}s over "
                  f"{args.runs} runs; Temporal calls per sync: {per_sync}")
    finally:
        server.stop()
    return 0


async def _count(client: Any, calls: Counter[str]) -> None:
    counting(client, calls)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: temporalio can crash in it (exit 139)
