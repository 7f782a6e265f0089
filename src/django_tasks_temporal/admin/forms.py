"""The admin's input: list filters and page tokens, action and purge requests, validated once."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django import forms
from django.tasks import TaskResultStatus

# Visibility cannot tell READY from RUNNING (both are an open workflow), so the list
# filters on "open" and shows each row's true status, read with the page.
OPEN = "open"
WAITING = "waiting"
STATUS_CHOICES = [
    (OPEN, "Open (READY or RUNNING)"),
    (WAITING, "Waiting for a trigger"),
    (TaskResultStatus.SUCCESSFUL.value, "Successful"),
    (TaskResultStatus.FAILED.value, "Failed"),
]
ACTION_CHOICES = [("run", "Run now"), ("retry", "Retry"), ("cancel", "Cancel")]
MAX_ID_LENGTH = 1000  # Temporal's default limit on workflow ids


def encode_page_token(token: bytes) -> str:
    """A visibility page token as it travels in a query string (base64url, unpadded)."""
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


class PageTokenField(forms.CharField):
    def to_python(self, value: Any) -> bytes | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as e:
            raise forms.ValidationError("This page link is broken: start again from page 1.") from e


class TaskFilterForm(forms.Form):
    """The changelist's query string: filters, the id search and the page."""

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    queue = forms.CharField(required=False, max_length=255)
    task = forms.CharField(required=False, max_length=1000)
    q = forms.CharField(required=False, max_length=MAX_ID_LENGTH)
    page_token = PageTokenField(required=False, max_length=4000)
    page = forms.IntegerField(required=False, min_value=1)


class TaskIdsField(forms.Field):
    """Task ids, as many as were selected (whether each names a task is Temporal's to say)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            raise forms.ValidationError("Expected a list of task ids.")
        ids = [str(v) for v in value]
        if any(not i or len(i) > MAX_ID_LENGTH for i in ids):
            raise forms.ValidationError("A selected task id is not valid.")
        return list(dict.fromkeys(ids))


class TaskActionForm(forms.Form):
    """An action on selected tasks: the changelist's action bar and the detail page's buttons."""

    action = forms.ChoiceField(choices=ACTION_CHOICES)
    _selected_action = TaskIdsField(required=False)
    force = forms.BooleanField(required=False)
    next = forms.CharField(required=False, max_length=8000)


class PurgeForm(forms.Form):
    days = forms.FloatField(
        min_value=0,
        initial=7,
        help_text="Delete the tasks that finished more than this many days ago.",
    )
    statuses = forms.MultipleChoiceField(
        choices=STATUS_CHOICES[2:],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave both unchecked to purge every finished task.",
    )
    queue_name = forms.CharField(
        required=False, max_length=255, help_text="Only this queue (leave empty for all)."
    )

    def clean_statuses(self) -> list[TaskResultStatus]:
        return [TaskResultStatus(s) for s in self.cleaned_data["statuses"]]
