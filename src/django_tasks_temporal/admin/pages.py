"""What every admin page of the package shares: which backend it shows, its context, its errors.

The admin has one section per Temporal backend in `settings.TASKS`, chosen with the
`backend` query parameter ("default" unless there is no such Temporal backend); other
backends are skipped. A Temporal server that cannot be reached, invalid OPTIONS or no
Temporal backend at all render as an admin page saying so, never as a 500.

The pages receive the ModelAdmin that serves them as a `TaskPages`, so nothing in this
package imports `task_admin` back: imports run one way (task_admin -> views -> actions
-> forms, everything -> pages).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Protocol

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.tasks.exceptions import InvalidTaskBackend
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.exceptions import InvalidBackendOptions, TemporalUnavailable
from django_tasks_temporal.operations import TaskOperations

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite
    from django.db.models.options import Options

logger = logging.getLogger("django_tasks_temporal.admin")


class TaskPages(Protocol):
    """What the pages need from the ModelAdmin serving them (`task_admin.TaskAdmin`)."""

    @property
    def admin_site(self) -> AdminSite: ...

    @property
    def opts(self) -> Options[Any]: ...

    @property
    def list_per_page(self) -> int: ...

    def has_task_permission(self, request: HttpRequest, codename: str) -> bool: ...


class NoTemporalBackend(Exception):
    """settings.TASKS has no Temporal backend to show."""


@dataclass(frozen=True, kw_only=True)
class Section:
    """The backend one admin page shows, with the operations on its tasks."""

    alias: str
    aliases: list[str]  # every Temporal backend, for the backend filter
    backend: TemporalTaskBackend

    @property
    def ops(self) -> TaskOperations:
        return TaskOperations(self.backend)


def temporal_aliases() -> list[str]:
    """The aliases in settings.TASKS whose backend is a Temporal backend."""
    aliases = []
    for alias in settings.TASKS:
        try:
            backend = task_backends[alias]
        except InvalidTaskBackend:
            continue
        if isinstance(backend, TemporalTaskBackend):
            aliases.append(alias)
    return aliases


def section_for(request: HttpRequest) -> Section:
    aliases = temporal_aliases()
    if not aliases:
        raise NoTemporalBackend("settings.TASKS has no Temporal backend.")
    default = DEFAULT_TASK_BACKEND_ALIAS if DEFAULT_TASK_BACKEND_ALIAS in aliases else aliases[0]
    alias = request.GET.get("backend") or request.POST.get("backend") or default
    if alias not in aliases:
        raise Http404(f"No Temporal task backend {alias!r}.")
    backend = task_backends[alias]
    assert isinstance(backend, TemporalTaskBackend)
    return Section(alias=alias, aliases=aliases, backend=backend)


def changelist_url(section: Section) -> str:
    url = reverse("admin:django_tasks_temporal_task_changelist")
    return f"{url}?{urlencode({'backend': section.alias})}"


def page_context(
    model_admin: TaskPages, request: HttpRequest, title: str, **extra: Any
) -> dict[str, Any]:
    """What every admin page needs (site header, user links, breadcrumbs), plus `extra`."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        **extra,
    }


type AdminView[**P] = Callable[Concatenate[TaskPages, HttpRequest, P], HttpResponse]


def shows_problems[**P](view: AdminView[P]) -> AdminView[P]:
    """Render Temporal's unavailability and configuration problems as an admin page."""

    @functools.wraps(view)
    def guarded(
        model_admin: TaskPages, request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs
    ) -> HttpResponse:
        try:
            return view(model_admin, request, *args, **kwargs)
        except (TemporalUnavailable, InvalidBackendOptions, NoTemporalBackend) as e:
            logger.warning("Temporal tasks admin: %s", e)
            status = 404 if isinstance(e, NoTemporalBackend) else 503
            context = page_context(model_admin, request, "Tasks unavailable", problem=str(e))
            template = "admin/django_tasks_temporal/unavailable.html"
            return TemplateResponse(request, template, context, status=status)

    return guarded
