"""The signing certificates ({kid: x509 PEM}), fetched once per cache period and shared by threads.

google-auth would fetch the certificates on every verification; this cache fetches them
once per period (Cache-Control max-age, else TASKS_API_OIDC_CERTS_CACHE_SECONDS), one
thread at a time, and at most once a minute early when a token names an unknown key
(Google rotates its keys). A failed fetch never lets a token through: callers get
`CertificatesUnavailable`, and the service answers 503.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

# Bounds on a response's max-age: never a fetch per request, never a day-old key set.
# (TASKS_API_OIDC_CERTS_CACHE_SECONDS is validated by conf.py instead.)
MIN_MAX_AGE = 60
MAX_MAX_AGE = 24 * 3600
# An unknown kid may trigger an early refetch, at most this often.
UNKNOWN_KID_REFETCH_INTERVAL = 60.0
# After a failed fetch, requests fail at once for this long instead of queueing on fetches.
FAILURE_BACKOFF = 5.0

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class CertificatesUnavailable(Exception):
    """The certificates could not be fetched (the message says why; never shown to clients)."""


@dataclass(frozen=True, kw_only=True)
class _Entry:
    certs: Mapping[str, str]
    fetched_at: float
    expires_at: float


@dataclass(frozen=True, kw_only=True)
class Fetched:
    certs: dict[str, str]
    max_age: int | None  # seconds, from Cache-Control (minus Age), None when absent


def fetch_certificates(url: str, timeout: float) -> Fetched:
    """GET the certificates JSON; raise CertificatesUnavailable on any failure."""
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as e:
        raise CertificatesUnavailable(f"Fetching certificates from {url!r} failed: {e}") from e
    if (
        not isinstance(body, dict)
        or not body
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in body.items())
    ):
        raise CertificatesUnavailable(
            f"Certificates from {url!r} are not a {{kid: PEM}} JSON object."
        )
    return Fetched(certs=body, max_age=_max_age(response.headers))


def _max_age(headers: Mapping[str, str]) -> int | None:
    match = _MAX_AGE.search(headers.get("Cache-Control", ""))
    if match is None:
        return None
    age = headers.get("Age", "0")
    return int(match.group(1)) - (int(age) if age.isdigit() else 0)


class CertificateCache:
    """Certificates per certs URL; thread-safe, one fetch at a time."""

    def __init__(
        self,
        fetch: Callable[[str, float], Fetched] = fetch_certificates,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._failed_at: dict[str, float] = {}

    def get(
        self, url: str, *, kid: str | None, default_max_age: int, timeout: float
    ) -> Mapping[str, str]:
        """The certificates for `url`, fetching them when expired or when `kid` is new."""
        entry = self._entries.get(url)
        if entry is not None and self._usable(entry, kid):
            return entry.certs
        with self._lock:
            # Another thread may have fetched while this one waited for the lock.
            entry = self._entries.get(url)
            if entry is not None and self._usable(entry, kid):
                return entry.certs
            now = self._clock()
            unexpired = entry is not None and now < entry.expires_at
            failed_at = self._failed_at.get(url)
            if failed_at is not None and now - failed_at < FAILURE_BACKOFF:
                if entry is not None and unexpired:
                    return entry.certs
                raise CertificatesUnavailable(
                    f"Fetching certificates from {url!r} failed {now - failed_at:.1f}s ago."
                )
            try:
                fetched = self._fetch(url, timeout)
            except CertificatesUnavailable:
                self._failed_at[url] = now
                if entry is not None and unexpired:
                    return entry.certs  # an early (unknown kid) refetch failed: keep the keys
                raise
            self._failed_at.pop(url, None)
            if fetched.max_age is None:
                max_age = default_max_age
            else:
                max_age = min(max(fetched.max_age, MIN_MAX_AGE), MAX_MAX_AGE)
            self._entries[url] = _Entry(
                certs=fetched.certs, fetched_at=now, expires_at=now + max_age
            )
            return fetched.certs

    def _usable(self, entry: _Entry, kid: str | None) -> bool:
        now = self._clock()
        if now >= entry.expires_at:
            return False
        if kid is None or kid in entry.certs:
            return True
        # An unknown key: refetch early, but not more than once a minute whatever tokens say.
        return now - entry.fetched_at < UNKNOWN_KID_REFETCH_INTERVAL

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._failed_at.clear()


certificate_cache = CertificateCache()
