"""The Django app: admin pages, the `run_temporal_worker` command and the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoTasksTemporalConfig(AppConfig):
    name = "django_tasks_temporal"
    verbose_name = "Temporal tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # django.tasks registers the check that calls each backend's check() when it is
        # imported; make sure `manage.py check` runs ours even if nothing else imports it.
        import django.tasks  # noqa: F401

        # The trigger service's system checks (a light import: DRF and google-auth load
        # only with the URLconf, so workers and commands do not pay for them).
        import django_tasks_temporal.api.checks  # noqa: F401
