"""`manage.py temporal_devserver`: `python -m django_tasks_temporal devserver`, from a project."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_tasks_temporal.devserver import (
    DevServerError,
    add_arguments,
    run_dev_server,
    ui_port_for,
)


class Command(BaseCommand):
    help = (
        "Run a Temporal dev server for this backend in the foreground, state kept in a "
        "file; Ctrl-C or SIGTERM stops it."
    )
    requires_system_checks: list[str] = []  # a server for the project, not of it

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            status = run_dev_server(
                port=options["port"],
                ui_port=ui_port_for(
                    options["port"], options["ui_port"], headless=options["headless"]
                ),
                db_filename=options["db_filename"],
                announce=self._announce,
            )
        except DevServerError as e:
            raise CommandError(str(e), returncode=2) from e
        if status:
            raise SystemExit(status)

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
