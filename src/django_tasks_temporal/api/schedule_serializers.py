"""Request and response bodies of the schedule endpoints (schedules/, schedules/<name>/...)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from django_tasks_temporal.api.serializers import BackendRequest
from django_tasks_temporal.schedule_declarations import OVERLAP_POLICIES

MAX_NOTE_LENGTH = 500
SYNC_STATES = ["synced", "changed", "missing", "orphan", "blocked", "invalid"]


class SchedulesQuery(BackendRequest):
    pass


class TriggerScheduleRequest(BackendRequest):
    pass


class PauseScheduleRequest(BackendRequest):
    note = serializers.CharField(
        default="",
        allow_blank=True,
        max_length=MAX_NOTE_LENGTH,
        help_text="Why, shown in the admin and Temporal's Web UI (default: who did it).",
    )


class ScheduledRunSerializer(serializers.Serializer[Any]):
    task_id = serializers.CharField(help_text="The run's task id (read it with status/<id>/).")
    scheduled_at = serializers.DateTimeField(help_text="Its nominal time (with jitter).")
    started_at = serializers.DateTimeField()


class ScheduleSerializer(serializers.Serializer[Any]):
    """A declared schedule, or an orphan (owned by the backend, no longer declared)."""

    name = serializers.CharField()
    schedule_id = serializers.CharField(help_text="The Temporal Schedule's id.")
    sync_state = serializers.ChoiceField(
        choices=SYNC_STATES,
        help_text="synced: on Temporal as declared; changed: a sync will update it; missing: "
        "not created yet; orphan: no longer declared (a sync deletes it); blocked: its id "
        "belongs to a schedule this backend does not own; invalid: see `problem`.",
    )
    problem = serializers.CharField(help_text="Why it is blocked or invalid (else empty).")
    task_path = serializers.CharField()
    when = serializers.CharField(help_text="E.g. \"cron '30 2 * * *' (Europe/Warsaw)\".")
    cron = serializers.CharField(allow_null=True, help_text="As declared (else null).")
    every = serializers.FloatField(allow_null=True, help_text="Seconds between runs (else null).")
    time_zone = serializers.CharField()
    overlap = serializers.ChoiceField(choices=list(OVERLAP_POLICIES))
    catchup_window = serializers.FloatField(
        allow_null=True, help_text="Seconds; null: Temporal's default (one year)."
    )
    jitter = serializers.FloatField()
    exists = serializers.BooleanField(help_text="Whether Temporal has the schedule.")
    paused = serializers.BooleanField()
    note = serializers.CharField()
    next_run_times = serializers.ListField(child=serializers.DateTimeField())
    recent_runs = ScheduledRunSerializer(many=True, help_text="Newest first (at most 10).")
    running = serializers.ListField(child=serializers.CharField(),
                                    help_text="Task ids of runs not finished yet.")
    runs = serializers.IntegerField(help_text="Runs started (triggers and backfills too).")
    skipped_overlap = serializers.IntegerField(
        help_text="Times skipped because a run was still open (overlap policy)."
    )
    missed_catchup = serializers.IntegerField(
        help_text="Times missed during an outage longer than the catch-up window."
    )


class SchedulesSerializer(serializers.Serializer[Any]):
    backend = serializers.CharField()
    schedules = ScheduleSerializer(many=True)


class TriggeredSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    task_id = serializers.CharField(
        allow_null=True,
        help_text="The run it started (read it with status/<id>/); null when the overlap "
        "policy skipped it, or when a repeated delivery started nothing.",
    )
    skipped = serializers.BooleanField(help_text="A run was still open (overlap policy).")
