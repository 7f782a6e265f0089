"""The admin's read pages: the task list and one task's details, read through operations."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from django_tasks_temporal.admin.actions import ACTIONS
from django_tasks_temporal.admin.detail import as_json, attempt_rows, task_fields, temporal_ui_url
from django_tasks_temporal.admin.forms import TaskFilterForm
from django_tasks_temporal.admin.forms import encode_page_token as encode
from django_tasks_temporal.admin.listing import (
    FILTERS,
    query_string,
    read_listing,
    sidebar_filters,
)
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
    data = form.cleaned_data
    params = {"backend": section.alias, **{k: data.get(k) or "" for k in FILTERS}}
    filters = {"queue_name": params["queue"] or None, "task_path": params["task"] or None,
               "task_id": params["q"] or None}
    listing = read_listing(section.ops, filters, params["status"], model_admin.list_per_page,
                           data.get("page_token"))
    number, token = data.get("page") or 1, listing.next_page_token
    context = page_context(
        model_admin, request, "Tasks", section=section, params=params, listing=listing,
        result_count=listing.counts.get(params["status"], 0),
        filters=sidebar_filters(section, params, [t.row for t in listing.tasks], listing.counts),
        has_active_filters=any(params[k] for k in FILTERS),
        page_number=number, first_page=query_string(params),
        next_page=token and query_string({**params, "page_token": encode(token),
                                          "page": number + 1}),
        actions=[a for a in ACTIONS.values()
                 if model_admin.has_task_permission(request, a.permission)],
        can_purge=model_admin.has_task_permission(request, "purge_task"),
        backend_query=query_string({"backend": section.alias}), next_url=request.get_full_path(),
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
        model_admin, request, f"Task {summary.id}", section=section, task=summary,
        task_fields=task_fields(summary),
        args_json=as_json(summary.args), kwargs_json=as_json(summary.kwargs),
        return_json=as_json(summary.return_value)
        if summary.status == TaskResultStatus.SUCCESSFUL else None,
        attempts=attempt_rows(summary), actions=actions,
        action_url=reverse("admin:django_tasks_temporal_task_action"),
        temporal_ui_url=temporal_ui_url(section, summary.id),
        changelist_url=changelist_url(section),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/task_detail.html", context)
