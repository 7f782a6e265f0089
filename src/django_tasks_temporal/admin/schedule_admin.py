"""`ScheduleAdmin`: the ModelAdmin behind the "Schedules" pages, with their URLs and permissions.

`Schedule` is an unmanaged model that only carries permissions (see models.py): the
pages read and change Temporal Schedules through `schedules.ScheduleOperations`. Staff
need `view_schedule` to see them, `trigger_schedule`, `pause_schedule` (pause and
unpause) and `backfill_schedule` for the actions.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from django_tasks_temporal.admin import schedule_actions, schedule_views
from django_tasks_temporal.admin.section_admin import SectionAdmin, View


class ScheduleAdmin(SectionAdmin):
    def list_page(self) -> View:
        return schedule_views.schedule_list_view

    def detail_page(self) -> View:
        return schedule_views.schedule_detail_view

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        actions = [
            path(f"<str:name>/{name}/", self._view(schedule_actions.schedule_action_view),
                 {"action_name": name}, name=f"{prefix}_{name}")
            for name in schedule_actions.SCHEDULE_ACTIONS
        ]
        return [
            path("", self._view(schedule_views.schedule_list_view), name=f"{prefix}_changelist"),
            *actions,
            path("<str:name>/", self._view(schedule_views.schedule_detail_view),
                 name=f"{prefix}_change"),
        ]
