"""The trigger service's settings, read from django.conf.settings at access time.

Each property validates its setting and raises `ImproperlyConfigured` naming the bad
value; `problems()` collects every such problem (plus "closed" warnings) for the
system checks, and `is_closed()` tells the authentication class to refuse everything.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from django_tasks_temporal.api import declarations
from django_tasks_temporal.api.declarations import Declaration
from django_tasks_temporal.options import Problem

# The endpoints a view may declare as `endpoint = "..."`, keys of TASKS_API_ENDPOINT_EMAILS.
ENDPOINTS = frozenset({"run", "run-one", "execute", "status", "purge"})
# The schedule endpoints' names: reading the list, and each change on its own.
ENDPOINTS |= {"schedules", "schedule-trigger", "schedule-pause", "schedule-unpause"}
ENDPOINTS |= {"enqueue"}  # enqueue/<name>/; each declared name may narrow it further

DEFAULT_ISSUERS = ["https://accounts.google.com", "accounts.google.com"]
DEFAULT_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
MAX_CLOCK_SKEW = 300

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _strings(name: str, *, emails: bool = False, non_empty: bool = False) -> list[str]:
    value = getattr(settings, name, [])
    expected = "e-mail addresses" if emails else "non-empty strings"
    if (
        not isinstance(value, list | tuple)
        or not all(isinstance(item, str) and item.strip() for item in value)
        or (emails and not all("@" in item for item in value))
    ):
        raise ImproperlyConfigured(f"{name} must be a list of {expected}, got {value!r}.")
    if non_empty and not value:
        raise ImproperlyConfigured(f"{name} must not be empty.")
    return [item.strip() for item in value]


def _number(name: str, default: float, *, minimum: float, maximum: float, integer: bool) -> Any:
    value = getattr(settings, name, default)
    kinds = int if integer else int | float
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not minimum <= value <= maximum
    ):
        what = "a whole number" if integer else "a number"
        raise ImproperlyConfigured(
            f"{name} must be {what} of seconds from {minimum:g} to {maximum:g}, got {value!r}."
        )
    return value


class Settings:
    """One typed property per setting; `override_settings` applies at once."""

    @property
    def TASKS_API_OIDC_AUDIENCES(self) -> list[str]:
        """The `aud` values accepted (the trigger service's URL, usually)."""
        return _strings("TASKS_API_OIDC_AUDIENCES")

    @property
    def TASKS_API_ALLOWED_EMAILS(self) -> list[str]:
        """Identities allowed on every endpoint."""
        return _strings("TASKS_API_ALLOWED_EMAILS", emails=True)

    @property
    def TASKS_API_ENDPOINT_EMAILS(self) -> dict[str, list[str]]:
        """Extra identities per endpoint (a name in ENDPOINTS, e.g. "status")."""
        name = "TASKS_API_ENDPOINT_EMAILS"
        value = getattr(settings, name, {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(
                f"{name} must be a dict of endpoint name to e-mail list, got {value!r}."
            )
        result: dict[str, list[str]] = {}
        for endpoint, emails in value.items():
            if endpoint not in ENDPOINTS:
                raise ImproperlyConfigured(
                    f"{name} has an unknown endpoint {endpoint!r}; expected one of "
                    f"{sorted(ENDPOINTS)}."
                )
            if not isinstance(emails, list | tuple) or not all(
                isinstance(e, str) and "@" in e for e in emails
            ):
                raise ImproperlyConfigured(
                    f"{name}[{endpoint!r}] must be a list of e-mail addresses, got {emails!r}."
                )
            result[endpoint] = [e.strip() for e in emails]
        return result

    @property
    def TASKS_API_OIDC_ISSUERS(self) -> list[str]:
        """The `iss` values accepted."""
        if not hasattr(settings, "TASKS_API_OIDC_ISSUERS"):
            return list(DEFAULT_ISSUERS)
        return _strings("TASKS_API_OIDC_ISSUERS", non_empty=True)

    @property
    def TASKS_API_OIDC_CERTS_URL(self) -> str:
        """Where the signing certificates are published, as {kid: x509 PEM} JSON."""
        name = "TASKS_API_OIDC_CERTS_URL"
        value = getattr(settings, name, DEFAULT_CERTS_URL)
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {value!r}.")
        return value

    @property
    def TASKS_API_OIDC_CLOCK_SKEW(self) -> int:
        """Seconds of leeway on `exp`, `iat` and `nbf`."""
        return int(
            _number(
                "TASKS_API_OIDC_CLOCK_SKEW", 10, minimum=0, maximum=MAX_CLOCK_SKEW, integer=True
            )
        )

    @property
    def TASKS_API_OIDC_CERTS_CACHE_SECONDS(self) -> int:
        """How long certificates are kept when the response has no Cache-Control max-age."""
        return int(
            _number(
                "TASKS_API_OIDC_CERTS_CACHE_SECONDS", 300, minimum=1, maximum=86400, integer=True
            )
        )

    @property
    def TASKS_API_OIDC_CERTS_TIMEOUT(self) -> float:
        """Seconds allowed for fetching the certificates."""
        return float(
            _number("TASKS_API_OIDC_CERTS_TIMEOUT", 5.0, minimum=0.1, maximum=60, integer=False)
        )

    @property
    def TASKS_API_STATUS_CACHE_SECONDS(self) -> float:
        """How long this process reuses a finished task's status/ answer (0: never)."""
        return float(
            _number(
                "TASKS_API_STATUS_CACHE_SECONDS", 2.0, minimum=0, maximum=300, integer=False
            )
        )

    @property
    def TASKS_API_ENQUEUE(self) -> dict[str, Declaration]:
        """The names `enqueue/<name>/` may start, each with its task and how to read events."""
        return declarations.parse()


conf = Settings()

_HINTS = {
    "TASKS_API_OIDC_AUDIENCES": (
        'Set TASKS_API_OIDC_AUDIENCES = ["https://tasks.example.com"], the audience your '
        "callers request their ID tokens for."
    ),
    "TASKS_API_ALLOWED_EMAILS": (
        'Set TASKS_API_ALLOWED_EMAILS = ["scheduler@project.iam.gserviceaccount.com"].'
    ),
    "TASKS_API_ENDPOINT_EMAILS": (
        'Use e.g. TASKS_API_ENDPOINT_EMAILS = {"status": ["reader@example.com"]}, with '
        f"endpoint names from {sorted(ENDPOINTS)}."
    ),
    "TASKS_API_OIDC_ISSUERS": (
        f"Leave it unset for Google ({DEFAULT_ISSUERS!r}) or list the accepted issuers."
    ),
    "TASKS_API_OIDC_CERTS_URL": f"Leave it unset for Google ({DEFAULT_CERTS_URL}).",
    "TASKS_API_OIDC_CLOCK_SKEW": "The default is 10 seconds.",
    "TASKS_API_OIDC_CERTS_CACHE_SECONDS": "The default is 300 seconds.",
    "TASKS_API_OIDC_CERTS_TIMEOUT": "The default is 5.0 seconds.",
    "TASKS_API_STATUS_CACHE_SECONDS": "The default is 2.0 seconds; 0 turns the cache off.",
    "TASKS_API_ENQUEUE": (
        'Use e.g. TASKS_API_ENQUEUE = {"order-paid": {"task": "shop.tasks.fulfil_order"}} '
        "(docs: Webhooks and events)."
    ),
}
_IDS = {
    "TASKS_API_OIDC_AUDIENCES": "E101",
    "TASKS_API_ALLOWED_EMAILS": "E102",
    "TASKS_API_ENDPOINT_EMAILS": "E103",
    "TASKS_API_OIDC_ISSUERS": "E104",
    "TASKS_API_OIDC_CERTS_URL": "E105",
    "TASKS_API_OIDC_CLOCK_SKEW": "E106",
    "TASKS_API_OIDC_CERTS_CACHE_SECONDS": "E107",
    "TASKS_API_OIDC_CERTS_TIMEOUT": "E108",
    "TASKS_API_STATUS_CACHE_SECONDS": "E109",
    "TASKS_API_ENQUEUE": "E110",
}
_CLOSED = "the trigger endpoints answer 403 to every request"
# Warnings that close the service; W103 (plain-http certs URL) only warns.
_CLOSING_WARNINGS = frozenset({"W101", "W102"})


def problems() -> list[Problem]:
    """Every configuration problem: E1xx for a bad value, W1xx when the service is closed."""
    found: list[Problem] = []
    values: dict[str, Any] = {}
    for name, id in _IDS.items():
        try:
            values[name] = getattr(conf, name)
        except ImproperlyConfigured as e:
            found.append(Problem(id=id, message=str(e), hint=_HINTS[name]))
    if values.get("TASKS_API_OIDC_AUDIENCES") == []:
        found.append(
            Problem(
                id="W101",
                message=f"TASKS_API_OIDC_AUDIENCES is empty: {_CLOSED} until it is set.",
                hint=_HINTS["TASKS_API_OIDC_AUDIENCES"],
            )
        )
    allowed = values.get("TASKS_API_ALLOWED_EMAILS")
    per_endpoint = values.get("TASKS_API_ENDPOINT_EMAILS")
    if allowed == [] and per_endpoint is not None and not any(per_endpoint.values()):
        found.append(
            Problem(
                id="W102",
                message=(
                    "No identity is allowed (TASKS_API_ALLOWED_EMAILS and "
                    f"TASKS_API_ENDPOINT_EMAILS are empty): {_CLOSED} until one is allowed."
                ),
                hint=_HINTS["TASKS_API_ALLOWED_EMAILS"]
                + " Or allow identities per endpoint with TASKS_API_ENDPOINT_EMAILS.",
            )
        )
    url = values.get("TASKS_API_OIDC_CERTS_URL")
    if url is not None and urlsplit(url).scheme != "https" and (
        urlsplit(url).hostname not in _LOOPBACK_HOSTS
    ):
        found.append(
            Problem(
                id="W103",
                message=(
                    f"TASKS_API_OIDC_CERTS_URL {url!r} is not https: whoever can alter the "
                    "response can sign tokens this service accepts."
                ),
                hint=_HINTS["TASKS_API_OIDC_CERTS_URL"],
            )
        )
    return found


def is_closed() -> bool:
    """True when the service must refuse every request (a bad value, no audience or identity)."""
    return any(p.id.startswith("E") or p.id in _CLOSING_WARNINGS for p in problems())
