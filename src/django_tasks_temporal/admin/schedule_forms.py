"""The Schedules pages' input: a pause or unpause note, a backfill range, validated once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from django_tasks_temporal.schedule_reads import ScheduleSummary

MAX_NOTE_LENGTH = 500
# A backfill starts its runs at once: keep one request to a size a worker pool absorbs.
MAX_BACKFILL_RUNS = 1000
BACKFILL_OVERLAP = [
    ("allow_all", "Start them all now (allow_all)"),
    ("buffer_all", "One after another (buffer_all)"),
    ("skip", "Only while none is running (skip)"),
]


class NoteForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Why; shown here and in Temporal's Web UI (default: who did it).",
    )


class BackfillForm(forms.Form):
    """A past time range whose scheduled times run now, as if that time were passing."""

    start = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Times after this one run (in the site's time zone).",
    )
    end = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Up to this one (not in the future).",
    )
    overlap = forms.ChoiceField(choices=BACKFILL_OVERLAP, initial="allow_all")

    def __init__(self, *args: Any, schedule: ScheduleSummary, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        if end <= start:
            raise forms.ValidationError("The end must be after the start.")
        if end > timezone.now() + timedelta(minutes=1):
            raise forms.ValidationError("The end is in the future: only past times backfill.")
        runs = estimated_runs(self.schedule, start, end)
        if runs > MAX_BACKFILL_RUNS:
            raise forms.ValidationError(
                f"That range holds about {runs:,} runs; backfill at most "
                f"{MAX_BACKFILL_RUNS:,} at a time."
            )
        return data


def estimated_runs(schedule: ScheduleSummary, start: datetime, end: datetime) -> int:
    """About how many scheduled times [start, end) holds (from the schedule's closest ones)."""
    times = schedule.next_run_times
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    if schedule.every:
        gap = timedelta(seconds=schedule.every)
    elif gaps:
        gap = min(gaps)
    else:
        return 1
    return int((end - start) / gap)
