"""`manage.py run_temporal_worker`: parse flags, pick the backend, run the worker."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, SystemCheckError

from django_tasks_temporal.cli import (
    BackendNotFound,
    add_arguments,
    config_flags,
    configure_logging,
    exit_now,
    select_backend,
)
from django_tasks_temporal.worker import run_worker, worker_config


class Command(BaseCommand):
    help = "Run a Temporal worker that executes this project's django.tasks tasks."
    requires_system_checks: list[str] = []  # the backend's own checks run below

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        # A configuration error exits 2 (1 is a worker that failed), e.g. for a Cloud Run Job.
        try:
            backend = select_backend(options["backend"], fallback=not options["no_fallback"])
            flags = config_flags(options)
        except (BackendNotFound, ValueError) as e:
            raise CommandError(str(e), returncode=2) from e
        try:
            self.check(display_num_errors=False)
        except SystemCheckError as e:
            e.returncode = 2
            raise
        configure_logging(options["verbosity"])
        exit_now(run_worker(backend, worker_config(backend, **flags)))
