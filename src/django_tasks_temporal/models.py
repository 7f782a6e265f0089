"""Unmanaged models that give the admin's task and schedule pages Django permissions (no tables).

Temporal is the only store of tasks: this model is never queried. It exists so that
`post_migrate` creates the permissions the admin checks, which staff get the usual way
(directly or through groups):

- `django_tasks_temporal.view_task`: see the task list and task details;
- `django_tasks_temporal.run_task`: run a waiting task now, retry a failed one;
- `django_tasks_temporal.cancel_task`: cancel a READY or RUNNING task;
- `django_tasks_temporal.purge_task`: delete finished tasks older than N days.
"""

from __future__ import annotations

from django.db import models


class Task(models.Model):
    id = models.CharField(primary_key=True, max_length=255)

    class Meta:
        managed = False
        db_table = "django_tasks_temporal_task_unmanaged"  # never created nor queried
        verbose_name = "task"
        verbose_name_plural = "tasks"
        default_permissions = ("view",)
        permissions = [
            ("run_task", "Can run tasks now and retry failed tasks"),
            ("cancel_task", "Can cancel tasks"),
            ("purge_task", "Can purge finished tasks"),
        ]

    def __str__(self) -> str:
        return self.id


class Schedule(models.Model):
    """The admin's Schedules pages: permissions only, like `Task` (Temporal keeps schedules).

    - `django_tasks_temporal.view_schedule`: see the schedules and their runs;
    - `django_tasks_temporal.trigger_schedule`: run a schedule's task now;
    - `django_tasks_temporal.pause_schedule`: pause and unpause, with a note;
    - `django_tasks_temporal.backfill_schedule`: take a past time range's runs now.
    """

    id = models.CharField(primary_key=True, max_length=255)

    class Meta:
        managed = False
        db_table = "django_tasks_temporal_schedule_unmanaged"  # never created nor queried
        verbose_name = "schedule"
        verbose_name_plural = "schedules"
        default_permissions = ("view",)
        permissions = [
            ("trigger_schedule", "Can trigger schedules now"),
            ("pause_schedule", "Can pause and unpause schedules"),
            ("backfill_schedule", "Can backfill schedules"),
        ]

    def __str__(self) -> str:
        return self.id
