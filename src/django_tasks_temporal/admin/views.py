"""The admin's read pages: the task list and one task's details, read through operations."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from django_tasks_temporal.admin.actions import ACTIONS
from django_tasks_temporal.admin.detail import detail_context
from django_tasks_temporal.admin.forms import TaskFilterForm
from django_tasks_temporal.admin.listing import listing_context
from django_tasks_temporal.admin.pages import (
    TaskPages,
    changelist_url,
    page_context,
    section_for,
    shows_problems,
)


@shows_problems
def changelist_view(model_admin: TaskPages, request: HttpRequest) -> HttpResponse:
    section = section_for(request)
    form = TaskFilterForm(request.GET)
    if not form.is_valid():  # the valid filters still apply
        for errors in form.errors.values():
            messages.warning(request, " ".join(str(e) for e in errors))
    context = page_context(
        model_admin, request, "Tasks",
        **listing_context(section, form.cleaned_data, model_admin.list_per_page),
        actions=[a for a in ACTIONS.values()
                 if model_admin.has_task_permission(request, a.permission)],
        can_purge=model_admin.has_task_permission(request, "purge_task"),
        next_url=request.get_full_path(),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/task_list.html", context)


@shows_problems
def detail_view(model_admin: TaskPages, request: HttpRequest, object_id: str) -> HttpResponse:
    section = section_for(request)
    try:
        summary = section.ops.get(object_id)
    except TaskResultDoesNotExist:
        messages.warning(request, f"Task with ID “{object_id}” does not exist. "
                         "Perhaps it was purged?")
        return HttpResponseRedirect(changelist_url(section))
    back = request.get_full_path()
    actions = [
        (a, "?" + urlencode({"backend": section.alias, "action": a.name,
                             "_selected_action": summary.id, "next": back}))
        for a in ACTIONS.values()
        if a.refusal(summary) is None and model_admin.has_task_permission(request, a.permission)
    ]
    context = page_context(
        model_admin, request, f"Task {summary.id}", **detail_context(summary, section),
        actions=actions, action_url=reverse("admin:django_tasks_temporal_task_action"),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/task_detail.html", context)
