"""The admin's actions: run now, retry, cancel and purge; each confirmed first, then reported.

Every action goes through `operations` (and `backend.cancel`). A GET, or a POST without
`post=yes`, only shows the confirmation page; the confirmed POST acts and reports each
task's outcome with `django.contrib.messages`. What does not apply to a task (running a
finished task, retrying one that did not fail) is refused with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from django_tasks_temporal.admin.forms import PurgeForm, TaskActionForm
from django_tasks_temporal.admin.pages import (
    Section,
    TaskPages,
    changelist_url,
    page_context,
    section_for,
    shows_problems,
)
from django_tasks_temporal.operations import TaskConflict, TaskOperations
from django_tasks_temporal.results import TaskSummary

_OPEN = (TaskResultStatus.READY, TaskResultStatus.RUNNING)
_CONFLICTS = {"task_running": "it is running", "task_finished": "it has finished"}


def _run(ops: TaskOperations, task_id: str, force: bool) -> None:
    ops.execute(task_id, force=force)


def _retry(ops: TaskOperations, task_id: str, force: bool) -> None:
    ops.retry(task_id)


def _cancel(ops: TaskOperations, task_id: str, force: bool) -> None:
    if not ops.backend.cancel(task_id):
        raise TaskConflict("task_finished", "The task has finished.")


def _not_ready(summary: TaskSummary) -> str | None:
    if summary.status == TaskResultStatus.READY:
        return None
    if summary.status == TaskResultStatus.RUNNING:
        return "it is running"
    return f"it has finished ({summary.status.value})"


def _not_failed(summary: TaskSummary) -> str | None:
    if summary.status == TaskResultStatus.FAILED:
        return None
    return f"it is {summary.status.value}; only a FAILED task is retried"


def _finished(summary: TaskSummary) -> str | None:
    return None if summary.status in _OPEN else f"it has finished ({summary.status.value})"


@dataclass(frozen=True, kw_only=True)
class TaskAction:
    name: str
    label: str  # the button
    question: str  # "Are you sure you want to {question}?", with {tasks}
    permission: str  # the codename a user needs
    done: str  # "Task “x” {done}." after success
    refusal: Callable[[TaskSummary], str | None]  # why it does not apply, or None
    perform: Callable[[TaskOperations, str, bool], None]

    def refused(self, summary: TaskSummary | None) -> str | None:
        return "it no longer exists" if summary is None else self.refusal(summary)


ACTIONS = {
    action.name: action
    for action in [
        TaskAction(name="run", label="Run now", question="run {tasks} now",
                   permission="run_task", refusal=_not_ready,
                   done="was released to run now", perform=_run),
        TaskAction(name="retry", label="Retry", question="retry {tasks}",
                   permission="run_task", refusal=_not_failed,
                   done="runs again under the same id", perform=_retry),
        TaskAction(name="cancel", label="Cancel", question="cancel {tasks}",
                   permission="cancel_task", refusal=_finished,
                   done="was asked to cancel: it ends FAILED when a worker next handles it",
                   perform=_cancel),
    ]
}


def _back(request: HttpRequest, next_url: str, section: Section) -> str:
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if next_url and allowed else changelist_url(section)


def _run_after_ahead(summary: TaskSummary | None) -> datetime | None:
    """The task's run_after, if it is still ahead (a release alone keeps it waiting)."""
    run_after = summary.run_after if summary else None
    return run_after if run_after and run_after > datetime.now(UTC) else None


def _act(request: HttpRequest, action: TaskAction, ops: TaskOperations, ids: list[str],
         force: bool) -> None:
    """Perform the action on each applicable task, and say what happened to each."""
    summaries = ops.get_many(ids)
    for task_id in ids:
        summary = summaries.get(task_id)
        reason = action.refused(summary)
        if reason is None:
            try:
                action.perform(ops, task_id, force)
            except TaskResultDoesNotExist:
                reason = "it no longer exists"
            except TaskConflict as e:
                reason = _CONFLICTS[e.code]
        if reason is not None:
            messages.warning(request, f"Task “{task_id}” was not changed: {reason}.")
            continue
        messages.success(request, f"Task “{task_id}” {action.done}.")
        if action.name == "run" and not force and (run_after := _run_after_ahead(summary)):
            messages.info(request, f"Task “{task_id}” still waits for its run_after, "
                          f"{run_after:%Y-%m-%d %H:%M:%S %Z}.")


def _confirmation(model_admin: TaskPages, request: HttpRequest, section: Section,
                  action: TaskAction, ids: list[str], back: str) -> HttpResponse:
    """Ask before acting; when the action applies to none of the tasks, say why at once."""
    summaries = section.ops.get_many(ids)
    selected = [(i, summaries.get(i), action.refused(summaries.get(i))) for i in ids]
    if all(reason is not None for _, _, reason in selected):
        for task_id, _, reason in selected:
            messages.warning(request, f"Task “{task_id}” was not changed: {reason}.")
        return HttpResponseRedirect(back)
    tasks = "the selected task" if len(ids) == 1 else f"the {len(ids)} selected tasks"
    applicable = [s for _, s, reason in selected if reason is None]
    context = page_context(
        model_admin, request, f"{action.label}: are you sure?",
        question=action.question.format(tasks=tasks), action=action, section=section,
        selected=selected, next_url=back,
        offer_force=action.name == "run" and any(_run_after_ahead(s) for s in applicable),
    )
    template = "admin/django_tasks_temporal/action_confirmation.html"
    return TemplateResponse(request, template, context)


@shows_problems
def task_action_view(model_admin: TaskPages, request: HttpRequest) -> HttpResponse:
    section = section_for(request)
    form = TaskActionForm(request.POST if request.method == "POST" else request.GET)
    if not form.data.get("action"):
        messages.warning(request, "No action selected.")
        return HttpResponseRedirect(_back(request, form.data.get("next", ""), section))
    if not form.is_valid():
        messages.error(request, "That action request was not valid; nothing was changed.")
        return HttpResponseRedirect(changelist_url(section))
    action = ACTIONS[form.cleaned_data["action"]]
    if not model_admin.has_task_permission(request, action.permission):
        raise PermissionDenied
    ids: list[str] = form.cleaned_data["_selected_action"]
    back = _back(request, form.cleaned_data["next"], section)
    if not ids:
        messages.warning(request, "Tasks must be selected in order to perform actions on "
                         "them. No tasks have been changed.")
        return HttpResponseRedirect(back)
    if request.method != "POST" or request.POST.get("post") != "yes":
        return _confirmation(model_admin, request, section, action, ids, back)
    _act(request, action, section.ops, ids, form.cleaned_data["force"])
    return HttpResponseRedirect(back)


@shows_problems
def purge_view(model_admin: TaskPages, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_task_permission(request, "purge_task"):
        raise PermissionDenied
    section = section_for(request)
    form = PurgeForm(request.POST if request.method == "POST" else None)
    matched = None
    if form.is_valid():
        days, statuses = form.cleaned_data["days"], form.cleaned_data["statuses"]
        queue_name = form.cleaned_data["queue_name"] or None
        ops = section.ops
        if request.POST.get("post") == "yes":
            purged = ops.purge(days=days, statuses=statuses, queue_name=queue_name)
            if purged.batch_job_id:
                messages.success(request, f"Purging {purged.matched} finished tasks "
                                 f"(Temporal batch job {purged.batch_job_id}); Temporal deletes "
                                 "them in the background, within about a minute.")
            elif purged.matched:  # the server ran its limit of batch jobs: deleted one by one
                messages.success(request, f"Purged {purged.matched} finished tasks.")
            else:
                messages.info(request, "No finished task matched; nothing was purged.")
            return HttpResponseRedirect(changelist_url(section))
        # The same selection the purge makes: finished tasks that closed before the cutoff.
        matched = ops.count(ops.query(
            statuses=statuses or (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED),
            queue_name=queue_name,
            closed_before=datetime.now(UTC) - timedelta(days=days),
        ))
    context = page_context(model_admin, request, "Purge finished tasks", form=form,
                           matched=matched, section=section, back=changelist_url(section))
    return TemplateResponse(request, "admin/django_tasks_temporal/purge.html", context)
