"""`SectionAdmin`: what the Tasks and Schedules admins share.

Each section's model is unmanaged and only carries permissions: nobody adds, changes or
deletes rows. Its pages are plain views, served staff-only by the admin site and then
only to users who may view the section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Model]
else:
    ModelAdmin = admin.ModelAdmin

View = Callable[..., HttpResponse]


class SectionAdmin(ModelAdmin):
    def list_page(self) -> View:
        """The view of the section's list (`view(model_admin, request)`)."""
        raise NotImplementedError

    def detail_page(self) -> View:
        """The view of one object's page (`view(model_admin, request, key)`)."""
        raise NotImplementedError

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_task_permission(self, request: HttpRequest, codename: str) -> bool:
        """Whether the user holds `django_tasks_temporal.<codename>` (directly or by group)."""
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def _view(self, view: View) -> View:
        """A page of this section: staff only (the admin site's check), then view permission."""

        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.has_view_permission(request):
                raise PermissionDenied
            return view(self, request, *args, **kwargs)

        return self.admin_site.admin_view(page)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._view(self.list_page())(request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self._view(self.detail_page())(request, object_id)
