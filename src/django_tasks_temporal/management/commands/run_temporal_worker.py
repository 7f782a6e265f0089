"""`manage.py run_temporal_worker`: parse flags, pick the backend, run the worker."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_tasks_temporal.cli import (
    BackendNotFound,
    add_arguments,
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
        try:
            backend = select_backend(options["backend"], fallback=not options["no_fallback"])
        except BackendNotFound as e:
            raise CommandError(str(e)) from e
        self.check(display_num_errors=False)
        configure_logging(options["verbosity"])
        config = worker_config(
            backend,
            queues=options["queues"],
            max_concurrent_activities=options["max_concurrent_activities"],
            max_concurrent_workflow_tasks=options["max_concurrent_workflow_tasks"],
            identity=options["identity"],
            shutdown_timeout=options["shutdown_timeout"],
            sync_schedules=False if options["no_sync_schedules"] else None,
        )
        exit_now(run_worker(backend, config))
