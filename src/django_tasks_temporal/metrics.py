"""The backend's own metrics, served with Temporal's on the worker's Prometheus endpoint.

A worker started with `--metrics-bind` (or OPTIONS `metrics_bind`) gets a temporalio
Runtime that serves `/metrics` (see `client.worker_runtime`): the SDK's worker metrics
(slots, schedule-to-start latencies, polls, failures) and the ones below, recorded where
an attempt starts and where its one outcome is claimed (`attempts.Attempt.claim`).
Labels are bounded: task path, Django queue, backend alias and outcome, never ids or
arguments. Lost attempts are decided in the workflow, which counts them on its own
replay-safe meter (`payloads.ATTEMPTS_LOST_METRIC`).
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig

from django_tasks_temporal.options import parse_bind_address
from django_tasks_temporal.payloads import TASK_CANCELLED

if TYPE_CHECKING:
    from django_tasks_temporal.attempts import Attempt

ATTEMPTS_STARTED = "django_tasks_attempts_started"
ATTEMPTS_FINISHED = "django_tasks_attempts_finished"
ATTEMPT_DURATION = "django_tasks_attempt_duration_seconds"
QUEUE_WAIT = "django_tasks_queue_wait_seconds"
# Seconds, from a no-op task to an hour-long one.
BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0, 600.0, 1200.0, 1800.0, 3600.0,
)
# How an attempt ended (the `outcome` label of ATTEMPTS_FINISHED).
OUTCOMES = ("succeeded", "failed", "retried", "cancelled", "handed_back")


def prometheus_config(bind: str) -> PrometheusConfig:
    """Serve /metrics on `bind` ("host:port"), in Prometheus' conventions: counters end
    in `_total`, durations are seconds."""
    host, port = parse_bind_address(bind)
    return PrometheusConfig(
        bind_address=_socket_address(host, port),
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={ATTEMPT_DURATION: BUCKETS, QUEUE_WAIT: BUCKETS},
    )


def _socket_address(host: str, port: int) -> str:
    """An IP literal and port, as Temporal's core wants it (it resolves no names)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        address = ipaddress.ip_address(info[0][4][0])
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


class TaskMetrics:
    """The backend's instruments on one Runtime's meter (thread-safe: Temporal's core)."""

    def __init__(self, meter: MetricMeter) -> None:
        self._started = meter.create_counter(
            ATTEMPTS_STARTED, "Task attempts whose function started."
        )
        self._finished = meter.create_counter(
            ATTEMPTS_FINISHED,
            "Task attempts by how they ended (outcome: " + ", ".join(OUTCOMES) + ").",
        )
        self._duration = meter.create_histogram_float(
            ATTEMPT_DURATION, "Seconds from an attempt's start to its outcome.", "s"
        )
        self._wait = meter.create_histogram_float(
            QUEUE_WAIT, "Seconds an attempt waited for a worker: its start minus its schedule.",
            "s",
        )

    def started(self, attempt: Attempt) -> None:
        """The attempt's function is about to start (called in its activity)."""
        labels = _labels(attempt)
        self._started.add(1, labels)
        wait = _queue_wait()
        if wait is not None:
            self._wait.record(wait, labels)

    def finished(self, attempt: Attempt) -> None:
        """The attempt's one outcome was just claimed (from any thread)."""
        labels = {**_labels(attempt), "outcome": outcome(attempt)}
        self._finished.add(1, labels)
        seconds = (datetime.now(UTC) - attempt.started_at).total_seconds()
        self._duration.record(max(0.0, seconds), labels)


def outcome(attempt: Attempt) -> str:
    """The `outcome` label of a claimed attempt."""
    result = attempt.outcome
    assert result is not None
    if attempt.handed_back:
        return "handed_back"
    if result.succeeded:
        return "succeeded"
    if result.error is not None and result.error.exception_class_path == TASK_CANCELLED:
        return "cancelled"
    return "retried" if attempt.retried else "failed"


def _labels(attempt: Attempt) -> dict[str, str]:
    task = attempt.request.task
    return {"task": task.task_path, "queue": task.queue_name, "backend": task.backend}


def _queue_wait() -> float | None:
    """Seconds between the attempt's schedule and its start, both on the server's clock."""
    try:
        info = activity.info()
    except RuntimeError:
        return None
    return max(0.0, (info.started_time - info.current_attempt_scheduled_time).total_seconds())
