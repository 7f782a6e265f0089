"""Cron expressions as Temporal Schedules accept them, checked before the server sees them.

Five fields (minute, hour, day of month, month, day of week), each `*`, a value, a
range `a-b`, a step `*/n` or `a-b/n` or `a/n`, or a comma-separated list of these; month
and weekday names (`JAN`, `MON`); weekday 7 is Sunday, as 0 is. Or one of the macros
`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
Temporal turns the expression into calendar specs on the server; this module only says
whether it is one, so that `manage.py check` reports a bad one with its field.
"""

from __future__ import annotations

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                    "@hourly"})
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names for values from `lowest` on)
_FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
]


class InvalidCron(ValueError):
    """The expression is not a cron expression Temporal accepts; the message says why."""


def validate(expression: str) -> None:
    """Raise `InvalidCron` naming the first bad field of `expression`."""
    text = expression.strip()
    if text.lower() in MACROS:
        return
    if text.startswith("@"):
        raise InvalidCron(f"unknown macro {text!r}; use one of {', '.join(sorted(MACROS))}")
    fields = text.split()
    if len(fields) != len(_FIELDS):
        raise InvalidCron(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    for value, (name, lowest, highest, names) in zip(fields, _FIELDS, strict=True):
        for part in value.split(","):
            _validate_part(part, name, lowest, highest, names)


def _validate_part(part: str, name: str, lowest: int, highest: int, names: list[str]) -> None:
    base, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        raise InvalidCron(f"the {name} field's step {step!r} is not a whole number >= 1")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    first = _value(start, name, lowest, highest, names)
    if dash and _value(end, name, lowest, highest, names) < first:
        raise InvalidCron(f"the {name} field's range {base!r} runs backwards")


def _value(text: str, name: str, lowest: int, highest: int, names: list[str]) -> int:
    if text.upper() in names:
        return lowest + names.index(text.upper())
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise InvalidCron(
            f"the {name} field has {text!r}, expected a number from {lowest} to {highest}"
            + (f" or a name such as {names[0]!r}" if names else "")
        )
    return int(text)
