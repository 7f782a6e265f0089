"""The Django admin's "Tasks" pages: watch and manage each Temporal backend's tasks.

Django's admin autodiscovery imports this package, which registers `TaskAdmin`. Inside,
imports run one way: `task_admin` (the ModelAdmin and its URLs) -> `views` (list and
detail) -> `actions` (run, retry, cancel, purge) -> `forms`. The views also use
`listing` (a list page and its counts, with `runs`: tasks, not Temporal runs) and
`detail` (a task's page, with `attempts`); every page uses `pages`. Tasks are read and
changed through `operations` and `results`, never with gRPC calls made here.

The "Schedules" pages run the same way: `schedule_admin` -> `schedule_views` ->
`schedule_actions` -> `schedule_forms`, reading and changing schedules through
`schedules`.
"""

from __future__ import annotations

from django.contrib import admin

from django_tasks_temporal.admin.schedule_admin import ScheduleAdmin
from django_tasks_temporal.admin.task_admin import TaskAdmin
from django_tasks_temporal.models import Schedule, Task

admin.site.register(Task, TaskAdmin)
admin.site.register(Schedule, ScheduleAdmin)

__all__ = ["ScheduleAdmin", "TaskAdmin"]
