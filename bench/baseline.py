"""The ceiling: the same work done with the raw temporalio SDK.

One workflow per task that runs ONE regular activity (no-op, or `time.sleep`), sync
activities on a ThreadPoolExecutor sized like the backend's worker, default sandbox.

Worker process: `python -m bench.baseline --target HOST --task-queue Q
[--max-concurrent-activities N]` (cwd and PYTHONPATH at the repository root).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

WORKFLOW_NAME = "bench.BaselineTask"
NOOP = "bench.noop"
SLEEP = "bench.sleep"


@dataclass(frozen=True)
class BaselineInput:
    activity: str
    seconds: float = 0.0


@workflow.defn(name=WORKFLOW_NAME)
class BaselineWorkflow:
    @workflow.run
    async def run(self, task: BaselineInput) -> None:
        await workflow.execute_activity(
            task.activity,
            task.seconds,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


@activity.defn(name=NOOP)
def noop(seconds: float) -> None:
    return None


@activity.defn(name=SLEEP)
def sleep(seconds: float) -> None:
    time.sleep(seconds)


def main() -> None:
    import argparse
    import asyncio
    import os
    import signal
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client
    from temporalio.worker import Worker

    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-concurrent-activities", type=int, default=100)
    args = parser.parse_args()

    async def run() -> None:
        client = await Client.connect(args.target)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        with ThreadPoolExecutor(args.max_concurrent_activities) as executor:
            worker = Worker(
                client,
                task_queue=args.task_queue,
                workflows=[BaselineWorkflow],
                activities=[noop, sleep],
                activity_executor=executor,
                max_concurrent_activities=args.max_concurrent_activities,
                identity=f"{os.getpid()}@baseline",
                graceful_shutdown_timeout=timedelta(seconds=30),
            )
            running = asyncio.create_task(worker.run())
            print(f"READY baseline worker serving {args.task_queue}", flush=True)
            await asyncio.wait(
                [running, asyncio.create_task(stop.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            await worker.shutdown()

    code = 0
    try:
        asyncio.run(run())
    except Exception as e:
        print(f"baseline worker failed: {e!r}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # temporalio can SIGSEGV at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    # Register the workflow under its importable name (bench.baseline), not __main__,
    # so the sandbox re-imports the real module.
    from bench import baseline as _real

    _real.main()
