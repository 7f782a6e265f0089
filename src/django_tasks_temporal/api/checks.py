"""System checks for the trigger service's settings (django_tasks_temporal.E101 ..., W101 ...).

A bad value is an error wherever the service is mounted. "Closed" (no audience or no
allowed identity) is the safe default, so it is a warning, and only when a view using
OIDCAuthentication is in the URLconf: projects that use the backend alone hear nothing,
and an unconfigured trigger service never stops `migrate` or the worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from django_tasks_temporal.api.conf import problems
from django_tasks_temporal.api.declarations import task_problems


@checks.register(checks.Tags.security)
def check_api_settings(**kwargs: Any) -> list[checks.CheckMessage]:
    found = problems() + task_problems()
    if any(p.id.startswith("W") for p in found) and not trigger_service_mounted():
        found = [p for p in found if p.id.startswith("E")]
    return [
        (checks.Error if p.id.startswith("E") else checks.Warning)(
            p.message, hint=p.hint, id=f"django_tasks_temporal.{p.id}"
        )
        for p in found
    ]


def trigger_service_mounted() -> bool:
    """Whether the URLconf routes to a view that authenticates with OIDCAuthentication."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return False
    return _uses_oidc(get_resolver().url_patterns)


def _uses_oidc(patterns: Iterable[URLPattern | URLResolver]) -> bool:
    # Imported here: the checks module is loaded by apps.ready() in every process.
    from django_tasks_temporal.api.authentication import OIDCAuthentication

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if _uses_oidc(pattern.url_patterns):
                return True
            continue
        view_class = getattr(pattern.callback, "cls", None)  # DRF's as_view() sets it
        classes = getattr(view_class, "authentication_classes", ())
        if any(isinstance(c, type) and issubclass(c, OIDCAuthentication) for c in classes):
            return True
    return False
