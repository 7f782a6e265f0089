"""OPTIONS parsed once into a frozen dataclass; problems are collected, not raised.

A backend is built even from bad OPTIONS so that `manage.py check` can list every
problem with its id and hint; using such a backend raises `InvalidBackendOptions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.tasks import DEFAULT_TASK_QUEUE_NAME

from django_tasks_temporal.payloads import RECORD_RESERVE
from django_tasks_temporal.schedule_declarations import HINTS as SCHEDULE_HINTS
from django_tasks_temporal.schedule_declarations import ScheduleDeclaration, parse_schedules


@dataclass(frozen=True, kw_only=True)
class TLSOptions:
    server_root_ca_cert: str | None = None  # path to a PEM file
    client_cert: str | None = None  # path to a PEM file (mTLS)
    client_private_key: str | None = None  # path to a PEM file (mTLS)
    domain: str | None = None


@dataclass(frozen=True, kw_only=True)
class Problem:
    id: str  # "E001" ...
    message: str
    hint: str


@dataclass(frozen=True, kw_only=True)
class BackendOptions:
    target_host: str = ""
    namespace: str = "default"
    task_queue: str = "django-tasks"
    max_concurrent_workflow_tasks: int | None = None
    max_concurrent_activities: int | None = None
    api_key: str | None = None
    tls: TLSOptions | bool | None = None  # None: TLS exactly when api_key is set
    connect_timeout: float = 5.0
    max_attempts: int = 1
    retry_initial_interval: float = 1.0
    retry_backoff_coefficient: float = 2.0
    retry_maximum_interval: float | None = None
    timeout: float | None = None
    heartbeat_timeout: float = 10.0
    max_lost_attempts: int = 10
    priority_levels: int = 5
    trigger_queues: frozenset[str] = frozenset()
    shutdown_timeout: float = 30.0
    max_payload_size: int = 2 * 2**20
    schedules: tuple[ScheduleDeclaration, ...] = ()  # OPTIONS["schedules"]
    sync_schedules_on_start: bool = True
    metrics_bind: str | None = None  # "host:port" of the worker's Prometheus /metrics
    tracing: bool = False  # OpenTelemetry on every client this backend makes
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def temporal_task_queue(self, queue_name: str) -> str:
        """The Temporal task queue serving a Django queue name."""
        if queue_name == DEFAULT_TASK_QUEUE_NAME:
            return self.task_queue
        return f"{self.task_queue}.{queue_name}"

    def django_queue_name(self, temporal_task_queue: str) -> str | None:
        """The Django queue name a Temporal task queue serves (None: not this backend's)."""
        if temporal_task_queue == self.task_queue:
            return DEFAULT_TASK_QUEUE_NAME
        prefix = f"{self.task_queue}."
        if temporal_task_queue.startswith(prefix) and len(temporal_task_queue) > len(prefix):
            return temporal_task_queue.removeprefix(prefix)
        return None

    @property
    def max_value_size(self) -> int:
        """Bytes of JSON a task's arguments, or its return value, may take."""
        return self.max_payload_size - RECORD_RESERVE

    def priority_key(self, priority: int) -> int:
        """Django's -100..100 (larger runs sooner) -> Temporal's 1..levels (1 runs first)."""
        return 1 + round((100 - priority) * (self.priority_levels - 1) / 200)


class _Parser:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, id: str, message: str, hint: str) -> None:
        self.problems.append(Problem(id=id, message=message, hint=hint))

    def text(self, name: str, default: str, id: str, *, required: bool = False) -> str:
        value = self.raw.get(name, default)
        if not isinstance(value, str) or not value.strip() or (required and name not in self.raw):
            self.problem(
                id,
                f"OPTIONS[{name!r}] must be a non-empty string, got {value!r}.",
                _HINTS[name],
            )
            return default
        return value

    def number(
        self, name: str, default: Any, id: str, *, integer: bool, minimum: float,
        maximum: float = math.inf, optional: bool = False,
    ) -> Any:
        value = self.raw.get(name, default)
        if value is None and optional:
            return None
        kinds = (int,) if integer else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or not math.isfinite(value)
            or not minimum <= value <= maximum
        ):
            kind = "a whole number" if integer else "a number"
            upper = f" and <= {maximum:g}" if maximum != math.inf else ""
            self.problem(
                id,
                f"OPTIONS[{name!r}] must be {kind} >= {minimum:g}{upper}"
                f"{' or None' if optional else ''}, got {value!r}.",
                _HINTS[name],
            )
            return default
        return value


_HINTS: dict[str, str] = {
    "target_host": "Set it to the Temporal frontend address, e.g. 'localhost:7233'.",
    "namespace": "Use the Temporal namespace name, e.g. 'default'.",
    "task_queue": "Use the Temporal task queue name, e.g. 'django-tasks'.",
    "max_concurrent_workflow_tasks": "Use a positive integer, or None for Temporal's default.",
    "max_concurrent_activities": "Use a positive integer, or None for Temporal's default.",
    "api_key": "Use the Temporal Cloud API key string, or None.",
    "tls": "Use None (TLS when api_key is set), True, False, or a dict with "
    "server_root_ca_cert, client_cert, client_private_key (file paths) and domain.",
    "connect_timeout": "Seconds to wait for an unreachable server, e.g. 5.",
    "max_attempts": "1 means no retries (Django's default); 3 means up to two retries.",
    "retry_initial_interval": "Seconds before the second attempt, e.g. 1.",
    "retry_backoff_coefficient": "The factor between successive pauses, >= 1, e.g. 2.",
    "retry_maximum_interval": "The longest pause between attempts in seconds, or None.",
    "timeout": "Seconds one attempt may run before it fails, or None for no limit.",
    "heartbeat_timeout": "Seconds (1 to 120) without a heartbeat from a running attempt "
    "before its worker is asked about it, and counted as lost if it does not answer, "
    "e.g. 10.",
    "max_lost_attempts": "How many lost workers a task survives before it is FAILED, e.g. 10.",
    "priority_levels": "The server's matching.priorityLevels (5 unless you changed it).",
    "trigger_queues": "A list of Django queue names whose tasks wait for a trigger.",
    "shutdown_timeout": "Seconds a stopping worker lets running tasks finish, e.g. 30.",
    "max_payload_size": "The Temporal server's limit.blobSize.error in bytes (2097152 "
    "unless you changed it); at least 1048576.",
    "schedules": "A dict of schedule name to declaration (see docs/schedules.md).",
    "sync_schedules_on_start": "True (a starting worker syncs OPTIONS['schedules']) or False.",
    "metrics_bind": "A 'host:port' the worker serves Prometheus metrics on, e.g. "
    "'0.0.0.0:9464', or None for no metrics.",
    "tracing": "True adds OpenTelemetry tracing (pip install 'django-tasks-temporal[otel]'); "
    "False or leave it out.",
}
KNOWN_OPTIONS = frozenset(_HINTS)


def parse_bind_address(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as (host, port); a ValueError names what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port with a port from 1 to 65535, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() for c in host) or ("[" in host or "]" in host):
        raise ValueError(f"expected host:port with a port from 1 to 65535, got {value!r}")
    return host, int(port)


def tracing_available() -> bool:
    """Whether the `otel` extra (temporalio's OpenTelemetry support) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except ImportError:  # the parent package `opentelemetry` is missing
        return False


def parse_options(raw: Any) -> BackendOptions:
    """Parse a backend's OPTIONS dict, keeping every problem for the system checks."""
    if not isinstance(raw, dict):
        problem = Problem(
            id="E001",
            message=f"OPTIONS must be a dict, got {type(raw).__name__}.",
            hint="Set OPTIONS to a dict with at least 'target_host'.",
        )
        return BackendOptions(problems=(problem,))
    p = _Parser(raw)
    for name in sorted(set(raw) - KNOWN_OPTIONS):
        p.problem(
            "E002",
            f"Unknown OPTIONS key {name!r}.",
            f"Valid keys are: {', '.join(sorted(KNOWN_OPTIONS))}.",
        )
    values = dict(
        target_host=p.text("target_host", "", "E003", required=True),
        namespace=p.text("namespace", "default", "E004"),
        task_queue=p.text("task_queue", "django-tasks", "E005"),
        max_concurrent_workflow_tasks=p.number(
            "max_concurrent_workflow_tasks", None, "E016", integer=True, minimum=2,
            optional=True,
        ),
        max_concurrent_activities=p.number(
            "max_concurrent_activities", None, "E006", integer=True, minimum=1, optional=True
        ),
        connect_timeout=p.number("connect_timeout", 5.0, "E008", integer=False, minimum=0.1),
        max_attempts=p.number("max_attempts", 1, "E009", integer=True, minimum=1),
        retry_initial_interval=p.number(
            "retry_initial_interval", 1.0, "E010", integer=False, minimum=0
        ),
        retry_backoff_coefficient=p.number(
            "retry_backoff_coefficient", 2.0, "E010", integer=False, minimum=1
        ),
        retry_maximum_interval=p.number(
            "retry_maximum_interval", None, "E010", integer=False, minimum=0, optional=True
        ),
        timeout=p.number("timeout", None, "E011", integer=False, minimum=0.001, optional=True),
        heartbeat_timeout=p.number(
            "heartbeat_timeout", 10.0, "E012", integer=False, minimum=1, maximum=120
        ),
        max_lost_attempts=p.number("max_lost_attempts", 10, "E012", integer=True, minimum=0),
        priority_levels=p.number("priority_levels", 5, "E013", integer=True, minimum=1),
        shutdown_timeout=p.number("shutdown_timeout", 30.0, "E015", integer=False, minimum=0),
        max_payload_size=p.number(
            "max_payload_size", 2 * 2**20, "E017", integer=True, minimum=2**20
        ),
    )
    api_key = raw.get("api_key")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        p.problem("E007", "OPTIONS['api_key'] must be a non-empty string or None.",
                  _HINTS["api_key"])
        api_key = None
    trigger_queues = raw.get("trigger_queues", [])
    if not isinstance(trigger_queues, list | tuple | set | frozenset) or not all(
        isinstance(q, str) and q for q in trigger_queues
    ):
        p.problem("E014", f"OPTIONS['trigger_queues'] must be a list of queue names, got "
                  f"{trigger_queues!r}.", _HINTS["trigger_queues"])
        trigger_queues = []
    schedules, schedule_problems = parse_schedules(raw.get("schedules"))
    for found in schedule_problems:
        p.problem(found.id, found.message, SCHEDULE_HINTS[found.id])
    sync_on_start = raw.get("sync_schedules_on_start", True)
    if not isinstance(sync_on_start, bool):
        p.problem("E023", f"OPTIONS['sync_schedules_on_start'] must be True or False, got "
                  f"{sync_on_start!r}.", _HINTS["sync_schedules_on_start"])
        sync_on_start = True
    return BackendOptions(
        **values,
        schedules=schedules,
        sync_schedules_on_start=sync_on_start,
        api_key=api_key,
        metrics_bind=_parse_metrics_bind(p, raw.get("metrics_bind")),
        tracing=_parse_tracing(p, raw.get("tracing", False)),
        tls=_parse_tls(p, raw.get("tls")),
        trigger_queues=frozenset(trigger_queues),
        problems=tuple(p.problems),
    )


def _parse_tls(p: _Parser, value: Any) -> TLSOptions | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        fields = {"server_root_ca_cert", "client_cert", "client_private_key", "domain"}
        if set(value) <= fields and all(isinstance(v, str) for v in value.values()):
            return TLSOptions(**value)
    p.problem("E007", f"OPTIONS['tls'] is invalid: {value!r}.", _HINTS["tls"])
    return None


def _parse_metrics_bind(p: _Parser, value: Any) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(f"expected a string 'host:port' or None, got {value!r}")
        parse_bind_address(value)
    except ValueError as e:
        p.problem("E024", f"OPTIONS['metrics_bind'] is invalid: {e}.", _HINTS["metrics_bind"])
        return None
    return value


def _parse_tracing(p: _Parser, value: Any) -> bool:
    if not isinstance(value, bool):
        p.problem("E025", f"OPTIONS['tracing'] must be True or False, got {value!r}.",
                  _HINTS["tracing"])
        return False
    if value and not tracing_available():
        p.problem("E025", "OPTIONS['tracing'] is True but OpenTelemetry is not installed.",
                  _HINTS["tracing"])
        return False
    return value
