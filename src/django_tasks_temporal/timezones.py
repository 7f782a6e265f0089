"""Datetimes as the project's Django settings want them.

Temporal and this package's records keep aware UTC times; with `USE_TZ = False` Django
works in naive local time (TIME_ZONE), so every datetime a user gets is converted here.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone


def for_django(value: datetime | None) -> datetime | None:
    """An aware datetime as Django code expects it: aware, or naive local time."""
    if value is None or settings.USE_TZ or timezone.is_naive(value):
        return value
    return timezone.make_naive(value, timezone.get_default_timezone())


def local(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp from a task's record, as `for_django` gives it."""
    return for_django(datetime.fromisoformat(value)) if value else None
