"""ID tokens that passed every check, remembered until they expire (5 minutes at most).

A caller that polls (a dashboard reading status/) sends the same token many times;
checking its RS256 signature and claims again costs more than the request itself. The
cache is keyed by a hash of the token and by the settings that judged it, so changing
the audiences, issuers or certs URL judges every token afresh. A hit also needs the very
certificate set the token was checked against to still be the current one (so a refetch,
an expiry or a failed fetch of the certificates applies as without this cache); `exp`
is checked again on every hit, and the allow-lists are not cached at all.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

MAX_ENTRIES = 1024
MAX_AGE = 300.0


class VerifiedTokens:
    def __init__(self) -> None:
        self._entries: OrderedDict[
            tuple[str, Hashable], tuple[float, Mapping[str, str], Mapping[str, Any]]
        ] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str, judged_by: Hashable) -> tuple[str, Hashable]:
        return hashlib.sha256(token.encode()).hexdigest(), judged_by

    def get(
        self, token: str, judged_by: Hashable, certs: Mapping[str, str], skew: float
    ) -> Mapping[str, Any] | None:
        key = self._key(token, judged_by)
        now = time.time()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            kept_until, checked_with, claims = entry
            if checked_with is not certs or now >= kept_until or now >= claims["exp"] + skew:
                del self._entries[key]
                return None
            return claims

    def put(
        self,
        token: str,
        judged_by: Hashable,
        certs: Mapping[str, str],
        claims: Mapping[str, Any],
    ) -> None:
        key = self._key(token, judged_by)
        with self._lock:
            self._entries[key] = (time.time() + MAX_AGE, certs, claims)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_tokens = VerifiedTokens()
