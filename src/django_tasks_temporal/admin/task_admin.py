"""`TaskAdmin`: the ModelAdmin behind the "Tasks" pages, with their URLs and permissions.

`Task` is an unmanaged model that only carries permissions: every page here reads
Temporal through `operations` and never touches the database for tasks. Staff need
`view_task` to see tasks, `run_task` to run or retry them, `cancel_task` to cancel and
`purge_task` to purge (see models.py).
"""

from __future__ import annotations

from django.urls import URLPattern, path

from django_tasks_temporal.admin import actions, views
from django_tasks_temporal.admin.section_admin import SectionAdmin, View


class TaskAdmin(SectionAdmin):
    list_per_page = 50  # one visibility page, whose tasks are then read concurrently

    def list_page(self) -> View:
        return views.changelist_view

    def detail_page(self) -> View:
        return views.detail_view

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", self._view(views.changelist_view), name=f"{prefix}_changelist"),
            path("action/", self._view(actions.task_action_view), name=f"{prefix}_action"),
            path("purge/", self._view(actions.purge_view), name=f"{prefix}_purge"),
            path("<path:object_id>/", self._view(views.detail_view), name=f"{prefix}_change"),
        ]
