"""`TaskAdmin`: the ModelAdmin behind the "Tasks" pages, with their URLs and permissions.

`Task` is an unmanaged model that only carries permissions: every page here reads
Temporal through `operations` and never touches the database for tasks. Staff need
`view_task` to see tasks, `run_task` to run or retry them, `cancel_task` to cancel and
`purge_task` to purge (see models.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from django_tasks_temporal.admin import actions, views
from django_tasks_temporal.models import Task

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Task]
else:
    ModelAdmin = admin.ModelAdmin


class TaskAdmin(ModelAdmin):
    list_per_page = 50  # one visibility page, whose tasks are then read concurrently

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        return False

    def has_task_permission(self, request: HttpRequest, codename: str) -> bool:
        """Whether the user holds `django_tasks_temporal.<codename>` (directly or by group)."""
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", self._view(views.changelist_view), name=f"{prefix}_changelist"),
            path("action/", self._view(actions.task_action_view), name=f"{prefix}_action"),
            path("purge/", self._view(actions.purge_view), name=f"{prefix}_purge"),
            path("<path:object_id>/", self._view(views.detail_view), name=f"{prefix}_change"),
        ]

    def _view(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        """A page of this section: staff only (the admin site's check), then `view_task`."""

        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.has_view_permission(request):
                raise PermissionDenied
            return view(self, request, *args, **kwargs)

        return self.admin_site.admin_view(page)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._view(views.changelist_view)(request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self._view(views.detail_view)(request, object_id)
