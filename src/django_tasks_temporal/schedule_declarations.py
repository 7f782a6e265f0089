"""OPTIONS["schedules"]: periodic tasks declared in settings, parsed once with every problem kept.

Each entry is keyed by a schedule name (one task may have several schedules) and says
which task runs, when (`cron` in a time zone, or `every` N seconds), with which
arguments, and how Temporal treats overlaps, outages and jitter. The shape is checked
here, without importing anything; whether the task imports and accepts the arguments is
checked by `schedules.task_problems` (from the backend's system checks), because a
project's tasks module may not be importable while its backends are being built.
"""

from __future__ import annotations

import json
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django_tasks_temporal import cron

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
OVERLAP_POLICIES = ("skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other",
                    "allow_all")
KEYS = frozenset({"task", "cron", "every", "time_zone", "args", "kwargs", "overlap",
                  "catchup_window", "jitter", "paused", "start_at", "end_at"})
# Temporal raises a catch-up window under 10 seconds to 10 seconds.
MIN_CATCHUP_WINDOW = 10.0

HINTS = {
    "E018": "Declare OPTIONS['schedules'] as {'nightly-report': {'task': 'shop.tasks.report', "
    "'cron': '30 2 * * *'}}; names use letters, digits, '_', '-' and '.' (at most 100), "
    f"and entries take the keys {', '.join(sorted(KEYS))}.",
    "E019": "Name a module-level @task by its dotted path, e.g. 'shop.tasks.build_report'.",
    "E020": "Give 'cron' (five fields, e.g. '30 2 * * *', or '@daily') or 'every' (seconds "
    ">= 1), an IANA 'time_zone' (default 'UTC'), and aware datetimes (or ISO 8601 strings "
    "with an offset) for 'start_at' / 'end_at'.",
    "E021": f"'overlap' is one of {', '.join(OVERLAP_POLICIES)}; 'catchup_window' is seconds "
    f">= {MIN_CATCHUP_WINDOW:g} or None (Temporal's default, one year); 'jitter' is seconds "
    ">= 0; 'paused' is True or False.",
    "E022": "'args' is a list and 'kwargs' a dict with string keys, both JSON serialisable.",
}


@dataclass(frozen=True, kw_only=True)
class ScheduleDeclaration:
    """One declared schedule, as parsed (the task itself is not imported here)."""

    name: str
    task: str  # the task's dotted path
    cron: str | None = None
    every: float | None = None  # seconds
    time_zone: str = "UTC"  # never Django's TIME_ZONE (America/Chicago when unset)
    args: list[Any] = field(default_factory=list, hash=False)
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    overlap: str = "skip"
    catchup_window: float | None = None  # seconds; None: Temporal's default (one year)
    jitter: float = 0.0  # seconds
    paused: bool = False  # the state a new schedule starts in (see docs/schedules.md)
    start_at: datetime | None = None
    end_at: datetime | None = None

    def when(self) -> str:
        """The declared times, for people: "cron '30 2 * * *' (Europe/Warsaw)", "every 2s"."""
        if self.cron is not None:
            return f"cron {self.cron!r} ({self.time_zone})"
        return f"every {self.every:g}s"


@dataclass(frozen=True, kw_only=True)
class ScheduleProblem:
    id: str  # "E018" ...
    message: str


def parse_schedules(raw: Any) -> tuple[tuple[ScheduleDeclaration, ...], list[ScheduleProblem]]:
    """Parse OPTIONS["schedules"] (a dict, or absent as None); problems are kept, not raised.

    A declaration with a problem is left out, so the others still sync.
    """
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        return (), [ScheduleProblem(id="E018", message="OPTIONS['schedules'] must be a dict "
                                    f"of schedule name to declaration, got {raw!r}.")]
    declarations: list[ScheduleDeclaration] = []
    problems: list[ScheduleProblem] = []
    for name, entry in raw.items():
        found = _Entry(name, entry)
        declaration = found.parse()
        problems += found.problems
        if declaration is not None:
            declarations.append(declaration)
    return tuple(declarations), problems


class _Entry:
    def __init__(self, name: Any, entry: Any) -> None:
        self.name = name
        self.entry = entry
        self.problems: list[ScheduleProblem] = []

    def problem(self, id: str, message: str) -> None:
        self.problems.append(
            ScheduleProblem(id=id, message=f"OPTIONS['schedules'][{self.name!r}]{message}")
        )

    def parse(self) -> ScheduleDeclaration | None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            self.problem("E018", ": the name is not valid.")
            return None
        if not isinstance(self.entry, dict):
            self.problem("E018", f" must be a dict, got {self.entry!r}.")
            return None
        for key in sorted(set(self.entry) - KEYS, key=str):
            extra = " (a schedule runs at its times; use 'start_at')" if key == "run_after" else ""
            self.problem("E018", f" has an unknown key {key!r}{extra}.")
        values = {
            "task": self.task(),
            **self.timing(),
            "args": self.value("args", [], list, "E022", "a list"),
            "kwargs": self.kwargs(),
            "overlap": self.overlap(),
            "catchup_window": self.seconds("catchup_window", None, MIN_CATCHUP_WINDOW, "E021"),
            "jitter": self.seconds("jitter", 0.0, 0, "E021"),
            "paused": self.value("paused", False, bool, "E021", "True or False"),
            "start_at": self.moment("start_at"),
            "end_at": self.moment("end_at"),
        }
        self.json_arguments(values["args"], values["kwargs"])
        if self.problems:
            return None
        return ScheduleDeclaration(name=self.name, **values)

    def value(self, key: str, default: Any, kind: type, id: str, expected: str) -> Any:
        value = self.entry.get(key, default)
        if not isinstance(value, kind):
            self.problem(id, f"[{key!r}] must be {expected}, got {value!r}.")
            return default
        return value

    def task(self) -> str:
        task = self.entry.get("task")
        if not isinstance(task, str) or "." not in task.strip(". "):
            self.problem("E019", f"['task'] must be a task's dotted path, got {task!r}.")
            return ""
        return task

    def timing(self) -> dict[str, Any]:
        has_cron, has_every = "cron" in self.entry, "every" in self.entry
        if has_cron == has_every:
            self.problem("E020", " needs exactly one of 'cron' and 'every'.")
            return {}
        time_zone = self.entry.get("time_zone", "UTC")
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            self.problem("E020", f"['time_zone'] is not a known IANA time zone: {time_zone!r}.")
        if has_every:
            every = self.seconds("every", None, 1, "E020")
            return {"every": every, "time_zone": time_zone}
        expression = self.entry["cron"]
        if not isinstance(expression, str):
            self.problem("E020", f"['cron'] must be a string, got {expression!r}.")
            return {}
        try:
            cron.validate(expression)
        except cron.InvalidCron as e:
            self.problem("E020", f"['cron'] {expression!r} is not valid: {e}.")
        return {"cron": " ".join(expression.split()), "time_zone": time_zone}

    def seconds(self, key: str, default: float | None, minimum: float, id: str) -> Any:
        value = self.entry.get(key, default)
        if value is None and default is None and key != "every":
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < minimum
        ):
            self.problem(id, f"[{key!r}] must be a number of seconds >= {minimum:g}, "
                         f"got {value!r}.")
            return default
        return float(value)

    def overlap(self) -> str:
        overlap = self.entry.get("overlap", "skip")
        if overlap not in OVERLAP_POLICIES:
            self.problem("E021", f"['overlap'] must be one of {', '.join(OVERLAP_POLICIES)}, "
                         f"got {overlap!r}.")
            return "skip"
        return str(overlap)

    def kwargs(self) -> dict[str, Any]:
        kwargs = self.value("kwargs", {}, dict, "E022", "a dict")
        if not all(isinstance(key, str) for key in kwargs):
            self.problem("E022", f"['kwargs'] must have string keys, got {list(kwargs)!r}.")
            return {}
        return dict(kwargs)

    def json_arguments(self, args: Any, kwargs: Any) -> None:
        try:
            json.dumps([args, kwargs], allow_nan=False)
        except (TypeError, ValueError) as e:
            self.problem("E022", f": the arguments are not JSON serialisable ({e}).")

    def moment(self, key: str) -> datetime | None:
        value = self.entry.get(key)
        if value is None:
            return None
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            self.problem("E020", f"[{key!r}] must be an aware datetime or an ISO 8601 string "
                         f"with an offset, got {value!r}.")
            return None
        return moment
