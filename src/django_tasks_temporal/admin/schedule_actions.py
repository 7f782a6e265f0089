"""The Schedules pages' actions: trigger now, pause, unpause, backfill; each behind its permission.

A GET shows what will happen (and the form, if the action takes one); the POST acts
through `schedules.ScheduleOperations`, says what happened with `django.contrib.messages`
and returns to the schedule's page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from django_tasks_temporal.admin.pages import (
    Section,
    TaskPages,
    page_context,
    section_for,
    shows_problems,
)
from django_tasks_temporal.admin.schedule_forms import BackfillForm, NoteForm
from django_tasks_temporal.schedule_reads import ScheduleSummary
from django_tasks_temporal.schedules import (
    ScheduleConflict,
    ScheduleNotFound,
    ScheduleOperations,
)


def schedule_url(section: Section, name: str | None = None) -> str:
    """The Schedules list, or one schedule's page, of the section's backend."""
    if name is None:
        url = reverse("admin:django_tasks_temporal_schedule_changelist")
    else:
        url = reverse("admin:django_tasks_temporal_schedule_change", args=[name])
    return f"{url}?{urlencode({'backend': section.alias})}"


def task_url(alias: str, task_id: str) -> str:
    url = reverse("admin:django_tasks_temporal_task_change", args=[task_id])
    return f"{url}?{urlencode({'backend': alias})}"


@dataclass(frozen=True, kw_only=True)
class ScheduleAction:
    name: str
    label: str  # the button
    permission: str  # the codename a user needs
    question: str  # "Are you sure you want to {question}?", with {name}
    form: Callable[..., forms.Form] | None
    applies: Callable[[ScheduleSummary], bool]
    perform: Callable[[HttpRequest, ScheduleOperations, ScheduleSummary, dict[str, Any]], None]


def _note(request: HttpRequest, data: dict[str, Any], done: str) -> str:
    return str(data.get("note") or f"{done} from the admin by {request.user}.")


def _trigger(request: HttpRequest, ops: ScheduleOperations, summary: ScheduleSummary,
             data: dict[str, Any]) -> None:
    triggered = ops.trigger(summary.name)
    if triggered.task_id:
        link = format_html('<a href="{}">{}</a>', task_url(ops.backend.alias, triggered.task_id),
                           triggered.task_id)
        messages.success(request, format_html("Schedule “{}” started task {}.", summary.name,
                                              link))
    elif triggered.skipped:
        messages.warning(request, f"Schedule “{summary.name}” did not start a run: one is "
                         f"still open and its overlap policy is {summary.overlap}.")
    else:
        messages.info(request, f"Schedule “{summary.name}” was triggered; its run has not "
                      "shown yet (refresh in a moment).")


def _pause(request: HttpRequest, ops: ScheduleOperations, summary: ScheduleSummary,
           data: dict[str, Any]) -> None:
    ops.pause(summary.name, _note(request, data, "Paused"))
    messages.success(request, f"Schedule “{summary.name}” is paused.")


def _unpause(request: HttpRequest, ops: ScheduleOperations, summary: ScheduleSummary,
             data: dict[str, Any]) -> None:
    ops.unpause(summary.name, _note(request, data, "Unpaused"))
    messages.success(request, f"Schedule “{summary.name}” runs again.")


def _backfill(request: HttpRequest, ops: ScheduleOperations, summary: ScheduleSummary,
              data: dict[str, Any]) -> None:
    ops.backfill(summary.name, data["start"], data["end"], data["overlap"])
    messages.success(request, f"Schedule “{summary.name}” is backfilling "
                     f"{data['start']:%Y-%m-%d %H:%M} to {data['end']:%Y-%m-%d %H:%M}.")


def _owned(summary: ScheduleSummary) -> bool:
    return summary.exists and summary.sync_state != "blocked"


SCHEDULE_ACTIONS = {
    action.name: action
    for action in [
        ScheduleAction(name="trigger", label="Trigger now", permission="trigger_schedule",
                       question="run “{name}” now (its overlap policy applies)", form=None,
                       applies=_owned, perform=_trigger),
        ScheduleAction(name="pause", label="Pause", permission="pause_schedule",
                       question="pause “{name}” (no run starts until it is unpaused)",
                       form=NoteForm, applies=lambda s: _owned(s) and not s.paused,
                       perform=_pause),
        ScheduleAction(name="unpause", label="Unpause", permission="pause_schedule",
                       question="unpause “{name}” (runs start again at its next time)",
                       form=NoteForm, applies=lambda s: _owned(s) and s.paused,
                       perform=_unpause),
        ScheduleAction(name="backfill", label="Backfill…", permission="backfill_schedule",
                       question="run the times of a past range of “{name}” now",
                       form=BackfillForm, applies=_owned, perform=_backfill),
    ]
}


def _form(action: ScheduleAction, request: HttpRequest,
          summary: ScheduleSummary) -> forms.Form | None:
    if action.form is None:
        return None
    data = request.POST if request.method == "POST" else None
    if action.form is BackfillForm:
        return BackfillForm(data, schedule=summary)
    return action.form(data)


def read_schedule(request: HttpRequest, section: Section, name: str) -> ScheduleSummary | None:
    """The schedule, or None after saying it does not exist (neither declared nor owned)."""
    try:
        return ScheduleOperations(section.backend).get(name)
    except ScheduleNotFound:
        messages.warning(request, f"Schedule “{name}” does not exist. Perhaps it was deleted?")
        return None


@shows_problems
def schedule_action_view(model_admin: TaskPages, request: HttpRequest, name: str,
                         action_name: str) -> HttpResponse:
    action = SCHEDULE_ACTIONS[action_name]
    if not model_admin.has_task_permission(request, action.permission):
        raise PermissionDenied
    section = section_for(request)
    ops = ScheduleOperations(section.backend)
    summary = read_schedule(request, section, name)
    if summary is None:
        return HttpResponseRedirect(schedule_url(section))
    back = schedule_url(section, name)
    if not action.applies(summary):
        messages.warning(request, f"Schedule “{name}” was not changed: "
                         f"{action.label.rstrip('…').lower()} does not apply to it now.")
        return HttpResponseRedirect(back)
    form = _form(action, request, summary)
    if request.method == "POST" and request.POST.get("post") == "yes" and (
        form is None or form.is_valid()
    ):
        try:
            action.perform(request, ops, summary, form.cleaned_data if form else {})
        except ScheduleConflict as e:
            messages.warning(request, f"Schedule “{name}” was not changed: {e}")
        return HttpResponseRedirect(back)
    context = page_context(
        model_admin, request, f"{action.label.rstrip('…')}: {name}", section=section,
        schedule=summary, action=action, question=action.question.format(name=name),
        form=form, back=back, changelist_url=schedule_url(section),
    )
    return TemplateResponse(request, "admin/django_tasks_temporal/schedule_action.html",
                            context)
