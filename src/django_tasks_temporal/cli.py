"""The worker's command line: flags, backend selection, logging, and a safe exit.

Shared by `manage.py run_temporal_worker` and `python -m django_tasks_temporal.worker`;
input is validated here by argparse, so the worker itself trusts its configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.burst import BurstConfig
from django_tasks_temporal.options import parse_bind_address


def exit_now(code: int) -> None:
    """Flush and exit without interpreter teardown (avoids temporalio's exit SIGSEGV)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's flags, shared by the management command and `python -m`."""
    parser.add_argument("--backend", default=None, help="The TASKS alias (default: 'default').")
    parser.add_argument(
        "--no-fallback",
        action="store_true",
        help="Without --backend, fail unless 'default' is a Temporal backend instead of "
        "using the first Temporal backend in TASKS.",
    )
    parser.add_argument(
        "--queue",
        action="append",
        dest="queues",
        default=[],
        metavar="NAME",
        help="A Django queue name to serve (repeatable; default: the backend's QUEUES, "
        "or 'default' plus OPTIONS['trigger_queues']).",
    )
    parser.add_argument("--max-concurrent-activities", type=_positive_int, default=None,
                        help="How many tasks run at once in this worker, across its queues.")
    parser.add_argument("--max-concurrent-workflow-tasks", type=_at_least_two, default=None,
                        help="How many workflow tasks (the bookkeeping between attempts) "
                        "this worker processes at once, per queue; at least 2.")
    parser.add_argument("--identity", default=None, help="This worker's identity in Temporal.")
    parser.add_argument("--shutdown-timeout", type=_non_negative_float, default=None,
                        help="Seconds running tasks get to finish after SIGTERM.")
    parser.add_argument("--no-sync-schedules", action="store_true",
                        help="Do not sync OPTIONS['schedules'] to Temporal at start "
                        "(OPTIONS['sync_schedules_on_start'] = False does the same).")
    parser.add_argument("--metrics-bind", type=_bind_address, default=None, metavar="HOST:PORT",
                        help="Serve Prometheus metrics on http://HOST:PORT/metrics "
                        "(overrides OPTIONS['metrics_bind']).")
    parser.add_argument("--health-bind", type=_bind_address, default=None, metavar="HOST:PORT",
                        help="Answer health probes on http://HOST:PORT/healthz and /livez.")
    parser.add_argument("--burst", action="store_true",
                        help="Exit 0 once the queues are drained (or a limit below is reached).")
    parser.add_argument("--idle", type=_non_negative_float, default=None, metavar="SECONDS",
                        help="With --burst: seconds without a running task before the queues "
                        f"count as drained (default {BurstConfig().idle:g}).")
    parser.add_argument("--max-tasks", type=_positive_int, default=None, metavar="N",
                        help="With --burst: stop after taking N tasks.")
    parser.add_argument("--max-runtime", type=_positive_float, default=None, metavar="SECONDS",
                        help="With --burst: stop after this long.")


def config_flags(options: dict[str, Any]) -> dict[str, Any]:
    """The parsed flags as `worker_config` keyword arguments; a ValueError names a flag
    that needs another."""
    burst_flags = [name for name in ("idle", "max_tasks", "max_runtime")
                   if options.get(name) is not None]
    if burst_flags and not options.get("burst"):
        flag = "--" + burst_flags[0].replace("_", "-")
        raise ValueError(f"{flag} only applies with --burst.")
    burst = None
    if options.get("burst"):
        idle = options.get("idle")
        burst = BurstConfig(
            idle=BurstConfig().idle if idle is None else idle,
            max_tasks=options.get("max_tasks"),
            max_runtime=options.get("max_runtime"),
        )
    return {
        "queues": options["queues"],
        "max_concurrent_activities": options["max_concurrent_activities"],
        "max_concurrent_workflow_tasks": options["max_concurrent_workflow_tasks"],
        "identity": options["identity"],
        "shutdown_timeout": options["shutdown_timeout"],
        "sync_schedules": False if options.get("no_sync_schedules") else None,
        "metrics_bind": options.get("metrics_bind"),
        "health_bind": options.get("health_bind"),
        "burst": burst,
    }


def _bind_address(value: str) -> str:
    try:
        parse_bind_address(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def _positive_float(value: str) -> float:
    number = _non_negative_float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def _at_least_two(value: str) -> int:
    number = _positive_int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 2, got {value!r}")
    return number


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value!r}")
    return number


class BackendNotFound(Exception):
    pass


def select_backend(alias: str | None, *, fallback: bool) -> TemporalTaskBackend:
    """The backend to serve: the named one, or 'default', or the first Temporal one."""
    from django.tasks import task_backends
    from django.tasks.exceptions import InvalidTaskBackend

    wanted = alias or "default"
    try:
        backend = task_backends[wanted]
    except InvalidTaskBackend:
        backend = None
    if isinstance(backend, TemporalTaskBackend):
        return backend
    if alias is None and fallback:
        for candidate in task_backends.all():
            if isinstance(candidate, TemporalTaskBackend):
                return candidate
    raise BackendNotFound(
        f"TASKS[{wanted!r}] is not a django_tasks_temporal.TemporalTaskBackend"
        + ("" if backend is not None else " (no such backend)")
        + "."
    )


def configure_logging(verbosity: int) -> None:
    """Show task logs (Django's `django.tasks` lines) and Temporal's warnings (its core's
    lines come through the `temporalio` logger) unless the project configured them."""
    level = logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING
    levels = {"django.tasks": level, "django_tasks_temporal": level}
    levels["temporalio"] = max(level, logging.WARNING)
    for name, name_level in levels.items():
        log = logging.getLogger(name)
        if not log.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            log.addHandler(handler)
            log.propagate = False
        log.setLevel(name_level)
