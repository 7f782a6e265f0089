"""`manage.py sync_temporal_schedules`: make Temporal's schedules match OPTIONS["schedules"].

Exit status: 0 when every declared schedule is in place, 1 when one is blocked (its id
belongs to a schedule this backend does not own) or invalid, or Temporal cannot be
reached, 2 for bad flags or an unknown backend.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from temporalio.service import RPCError

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.cli import BackendNotFound, exit_now, select_backend
from django_tasks_temporal.exceptions import InvalidBackendOptions, TemporalUnavailable
from django_tasks_temporal.schedule_sync import SyncReport
from django_tasks_temporal.schedules import ScheduleOperations


class Command(BaseCommand):
    help = (
        "Create, update and delete this project's Temporal Schedules to match "
        "OPTIONS['schedules']; schedules this project does not own are never touched."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--backend", default=None,
                            help="The TASKS alias (default: every Temporal backend).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Say what would change, and change nothing.")
        parser.add_argument("--no-prune", action="store_true",
                            help="Keep owned schedules that are no longer declared.")

    def run_from_argv(self, argv: list[str]) -> None:
        # From the command line only: leave without interpreter teardown, which temporalio
        # can crash (exit 139), whatever the exit status.
        try:
            super().run_from_argv(argv)
        except SystemExit as e:
            exit_now(e.code if isinstance(e.code, int) else 1)
        exit_now(0)

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        for backend in self.backends(options["backend"]):
            try:
                report = ScheduleOperations(backend).sync(
                    dry_run=options["dry_run"], prune=not options["no_prune"]
                )
            except (TemporalUnavailable, InvalidBackendOptions) as e:
                raise CommandError(str(e)) from e
            except RPCError as e:
                raise CommandError(
                    f"Temporal refused the sync of TASKS[{backend.alias!r}]'s schedules "
                    f"({e.status.name}: {e.message})."
                ) from e
            self.show(report, options["verbosity"])
            if not report.ok:
                failed.append(backend.alias)
        if failed:
            raise CommandError(
                f"Schedules of TASKS{failed!r} are blocked or invalid (see above)."
            )

    def backends(self, alias: str | None) -> list[TemporalTaskBackend]:
        if alias is not None:
            try:
                return [select_backend(alias, fallback=False)]
            except BackendNotFound as e:
                raise CommandError(str(e), returncode=2) from e
        from django.tasks import task_backends

        found = [b for b in task_backends.all() if isinstance(b, TemporalTaskBackend)]
        if not found:
            raise CommandError("settings.TASKS has no Temporal backend.", returncode=2)
        return found

    def show(self, report: SyncReport, verbosity: int) -> None:
        for result in report.results:
            if result.outcome == "unchanged" and verbosity < 2:
                continue
            line = f"{result.outcome:>9}  {result.name}"
            if result.detail:
                line += f": {result.detail}"
            bad = result.outcome in ("blocked", "invalid")
            (self.stderr if bad else self.stdout).write(line)
        self.stdout.write(report.summary())
