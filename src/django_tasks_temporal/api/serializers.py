"""Request and response bodies of the trigger endpoints: validated once, here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import InvalidTaskBackend
from rest_framework import serializers

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.progress import TaskProgress
from django_tasks_temporal.results import TaskSummary

# Cloud Scheduler gives up after its attempt deadline (3 minutes unless set): a caller
# that waits longer must raise it (`--attempt-deadline`, up to 30 minutes).
MAX_WAIT_SECONDS = 300
MAX_NAME_LENGTH = 200


def temporal_backend(alias: str) -> TemporalTaskBackend:
    """The Temporal backend named `alias`, or a validation error naming the field."""
    try:
        backend = task_backends[alias]
    except InvalidTaskBackend:
        backend = None
    if not isinstance(backend, TemporalTaskBackend):
        raise serializers.ValidationError(
            {"backend": ["No Temporal task backend has this name."]}, code="unknown_backend"
        )
    return backend


class BackendField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            default="default",
            max_length=MAX_NAME_LENGTH,
            help_text='The task backend (a key of settings.TASKS), default "default".',
            **kwargs,
        )


class WaitField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            default=0,
            min_value=0,
            max_value=MAX_WAIT_SECONDS,
            help_text=(
                "Seconds to wait for the released tasks to finish before answering "
                f"(0-{MAX_WAIT_SECONDS}); 0 answers at once."
            ),
            **kwargs,
        )


class ForceField(serializers.BooleanField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            default=False,
            help_text="Also skip a run_after that is still ahead (otherwise it is kept).",
            **kwargs,
        )


class QueueNameField(serializers.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            r"^[A-Za-z0-9_.\-]+$",
            max_length=MAX_NAME_LENGTH,
            error_messages={"invalid": "Use letters, digits, '_', '-' and '.'."},
            **kwargs,
        )


class BackendRequest(serializers.Serializer[dict[str, Any]]):
    backend = BackendField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        backend = temporal_backend(attrs["backend"])
        queue_name = attrs.get("queue_name")
        if queue_name and backend.queues and queue_name not in backend.queues:
            raise serializers.ValidationError(
                {"queue_name": ["This backend has no such queue (settings.TASKS QUEUES)."]},
                code="unknown_queue",
            )
        attrs["backend"] = backend
        return attrs


class RunRequest(BackendRequest):
    queue_name = QueueNameField(default="default", help_text="The trigger-gated queue.")
    max_tasks = serializers.IntegerField(
        default=0,
        min_value=0,
        max_value=10_000,
        help_text="Release at most this many, highest priority then oldest first; 0 = all.",
    )
    force = ForceField()
    wait = WaitField()


class RunOneRequest(BackendRequest):
    queue_name = QueueNameField(default="default", help_text="The trigger-gated queue.")
    force = ForceField()
    wait = WaitField()


class ExecuteRequest(BackendRequest):
    force = ForceField()
    allow_retry = serializers.BooleanField(
        default=False, help_text="Re-run a FAILED task under the same id."
    )
    wait = WaitField()


class PurgeRequest(BackendRequest):
    days = serializers.FloatField(
        default=7,
        min_value=0,
        max_value=36_500,
        help_text="Delete tasks that finished more than this many days ago.",
    )
    status = serializers.ChoiceField(
        choices=[TaskResultStatus.SUCCESSFUL.value, TaskResultStatus.FAILED.value],
        required=False,
        help_text="Only tasks that ended this way (default: both).",
    )
    queue_name = QueueNameField(required=False, help_text="Only tasks of this queue.")


class StatusQuery(BackendRequest):
    pass


class TaskErrorSerializer(serializers.Serializer[Any]):
    exception_class_path = serializers.CharField()
    traceback = serializers.CharField()


class ProgressSerializer(serializers.Serializer[Any]):
    """What a running task last reported (`report_progress`)."""

    fraction = serializers.FloatField(allow_null=True, help_text="0 to 1, if known.")
    done = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    reported_at = serializers.DateTimeField()


class TaskSerializer(serializers.Serializer[Any]):
    """Every `TaskResult` field, plus what was enqueued: path, queue, priority, run_after."""

    id = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in TaskResultStatus])
    task_path = serializers.CharField()
    backend = serializers.CharField()
    queue_name = serializers.CharField()
    priority = serializers.IntegerField()
    args = serializers.ListField(child=serializers.JSONField())
    kwargs = serializers.DictField(child=serializers.JSONField())
    run_after = serializers.DateTimeField(allow_null=True)
    enqueued_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    last_attempted_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    return_value = serializers.JSONField(allow_null=True)
    errors = TaskErrorSerializer(many=True)  # type: ignore[assignment]  # a field, here
    worker_ids = serializers.ListField(child=serializers.CharField())
    attempts = serializers.SerializerMethodField()
    waiting_for_trigger = serializers.BooleanField(
        help_text="On a trigger-gated queue and not released yet."
    )
    progress = ProgressSerializer(
        allow_null=True,
        help_text="What the task last reported about its progress, while it runs and "
        "after it ended; null if it never reported.",
    )
    queue_served = serializers.BooleanField(
        allow_null=True,
        help_text="For a READY task: whether a worker polled its queue in the last few "
        "minutes (false: nothing runs it until a worker serves the queue). Null otherwise.",
    )

    def get_attempts(self, summary: Any) -> int:
        return len(summary.worker_ids)


def _time(value: datetime | None) -> str | None:
    """What DRF's DateTimeField renders (ISO 8601, "Z" for UTC)."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def task_data(summary: TaskSummary) -> dict[str, Any]:
    """`TaskSerializer(summary).data`, without DRF's per-field machinery.

    `status/<id>/` is the endpoint callers poll; building this by hand costs a tenth of
    the serializer (a test keeps the two identical).
    """
    return {
        "id": summary.id,
        "status": summary.status.value,
        "task_path": summary.task_path,
        "backend": summary.backend,
        "queue_name": summary.queue_name,
        "priority": summary.priority,
        "args": summary.args,
        "kwargs": summary.kwargs,
        "run_after": _time(summary.run_after),
        "enqueued_at": _time(summary.enqueued_at),
        "started_at": _time(summary.started_at),
        "last_attempted_at": _time(summary.last_attempted_at),
        "finished_at": _time(summary.finished_at),
        "return_value": summary.return_value,
        "errors": [
            {"exception_class_path": e.exception_class_path, "traceback": e.traceback}
            for e in summary.errors
        ],
        "worker_ids": summary.worker_ids,
        "attempts": len(summary.worker_ids),
        "waiting_for_trigger": summary.waiting_for_trigger,
        "progress": _progress(summary.progress),
        "queue_served": summary.queue_served,
    }


def _progress(progress: TaskProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {
        "fraction": progress.fraction,
        "done": progress.done,
        "total": progress.total,
        "message": progress.message,
        "reported_at": _time(progress.reported_at),
    }


class ReleasedSerializer(serializers.Serializer[Any]):
    released = serializers.ListField(
        child=serializers.CharField(), source="task_ids", help_text="Ids of released tasks."
    )
    count = serializers.IntegerField()
    batch_job_id = serializers.CharField(
        allow_null=True, help_text="The Temporal batch job that signals them, if one was used."
    )
    tasks = TaskSerializer(
        many=True, allow_null=True, help_text="Their states after `wait` seconds (else null)."
    )
    duplicate = serializers.BooleanField(
        help_text="A repeated delivery (same Idempotency-Key or Cloud Scheduler run): "
        "nothing more was released; `released` is what the first delivery released."
    )


class RunOneSerializer(serializers.Serializer[Any]):
    processed = serializers.BooleanField(help_text="False when no task was waiting.")
    duplicate = serializers.BooleanField(
        help_text="A repeated delivery: `id` is the task the first delivery released."
    )
    id = serializers.CharField(allow_null=True)
    task = TaskSerializer(allow_null=True, help_text="Its state after `wait` seconds (else null).")


class ExecuteSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    action = serializers.ChoiceField(choices=["released", "retried"])
    task = TaskSerializer(help_text="The task now (after `wait` seconds, if given).")


class PurgedSerializer(serializers.Serializer[Any]):
    batch_job_id = serializers.CharField(
        allow_null=True, help_text="The Temporal batch job deleting them (null: none matched)."
    )
    matched = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="What went wrong, for programs.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, here
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field problems (400 only).",
    )
