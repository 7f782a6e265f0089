"""The Django app: admin pages, the `run_temporal_worker` command and the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoTasksTemporalConfig(AppConfig):
    name = "django_tasks_temporal"
    verbose_name = "Temporal tasks"
    default_auto_field = "django.db.models.BigAutoField"
