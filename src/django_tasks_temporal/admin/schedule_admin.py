"""`ScheduleAdmin`: the ModelAdmin behind the "Schedules" pages, with their URLs and permissions.

`Schedule` is an unmanaged model that only carries permissions (see models.py): the
pages read and change Temporal Schedules through `schedules.ScheduleOperations`. Staff
need `view_schedule` to see them, `trigger_schedule`, `pause_schedule` (pause and
unpause) and `backfill_schedule` for the actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from django_tasks_temporal.admin import schedule_actions, schedule_views
from django_tasks_temporal.models import Schedule

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Schedule]
else:
    ModelAdmin = admin.ModelAdmin


class ScheduleAdmin(ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        return False

    def has_task_permission(self, request: HttpRequest, codename: str) -> bool:
        """Whether the user holds `django_tasks_temporal.<codename>` (directly or by group)."""
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

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

    def _view(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        """A page of this section: staff only (the admin site's check), then `view_schedule`."""

        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.has_view_permission(request):
                raise PermissionDenied
            return view(self, request, *args, **kwargs)

        return self.admin_site.admin_view(page)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._view(schedule_views.schedule_list_view)(request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self._view(schedule_views.schedule_detail_view)(request, object_id)
