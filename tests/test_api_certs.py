"""The certificate cache on its own: periods, bounds, key rotation, failures, threads."""

from __future__ import annotations

import threading
import time

import pytest

from django_tasks_temporal.api.certs import (
    FAILURE_BACKOFF,
    MAX_MAX_AGE,
    MIN_MAX_AGE,
    CertificateCache,
    CertificatesUnavailable,
    Fetched,
    fetch_certificates,
)
from tests.oidc import CertsServer, signing_key

URL = "https://certs.example/oauth2/v1/certs"


class FakeProvider:
    def __init__(self) -> None:
        self.now = 1000.0
        self.fetches = 0
        self.max_age: int | None = None
        self.fail = False
        self.certs = {"key-1": "PEM 1"}

    def clock(self) -> float:
        return self.now

    def fetch(self, url: str, timeout: float) -> Fetched:
        self.fetches += 1
        if self.fail:
            raise CertificatesUnavailable("down")
        return Fetched(certs=dict(self.certs), max_age=self.max_age)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def cache(provider: FakeProvider) -> CertificateCache:
    return CertificateCache(fetch=provider.fetch, clock=provider.clock)


def get(cache: CertificateCache, kid: str | None = "key-1", url: str = URL) -> object:
    return cache.get(url, kid=kid, default_max_age=300, timeout=1)


@pytest.mark.parametrize(
    "max_age, lifetime",
    [(None, 300), (3600, 3600), (0, MIN_MAX_AGE), (10**9, MAX_MAX_AGE)],
)
def test_certificates_live_for_max_age_within_bounds(cache, provider, max_age, lifetime):
    provider.max_age = max_age
    assert get(cache) == {"key-1": "PEM 1"}
    provider.now += lifetime - 1
    get(cache)
    assert provider.fetches == 1
    provider.now += 1
    get(cache)
    assert provider.fetches == 2


def test_each_certs_url_has_its_own_entry(cache, provider):
    get(cache)
    get(cache, url=URL + "?other")
    get(cache)
    assert provider.fetches == 2


def test_a_token_without_kid_uses_the_cached_certificates(cache, provider):
    get(cache)
    provider.now += 120
    get(cache, kid=None)
    assert provider.fetches == 1


def test_a_failed_fetch_without_certificates_raises_and_backs_off(cache, provider):
    provider.fail = True
    for _ in range(5):
        with pytest.raises(CertificatesUnavailable):
            get(cache)
    assert provider.fetches == 1
    provider.fail = False
    provider.now += FAILURE_BACKOFF
    assert get(cache) == {"key-1": "PEM 1"}
    assert provider.fetches == 2


def test_a_failed_refetch_for_a_new_kid_keeps_the_certificates(cache, provider):
    get(cache)
    provider.fail = True
    provider.now += 61
    assert get(cache, kid="key-2") == {"key-1": "PEM 1"}
    assert get(cache, kid="key-1") == {"key-1": "PEM 1"}
    assert provider.fetches == 2


def test_threads_wait_for_one_fetch(provider):
    started = threading.Event()

    def slow_fetch(url: str, timeout: float) -> Fetched:
        started.set()
        time.sleep(0.2)
        return provider.fetch(url, timeout)

    cache = CertificateCache(fetch=slow_fetch, clock=provider.clock)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(get(cache))) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [{"key-1": "PEM 1"}] * 10
    assert provider.fetches == 1


def test_fetch_reads_max_age_minus_age():
    server = CertsServer(signing_key("key-1"))
    try:
        server.headers["Cache-Control"] = "public, max-age=19800, must-revalidate, no-transform"
        fetched = fetch_certificates(server.url, timeout=5)
        assert list(fetched.certs) == ["key-1"]
        assert fetched.certs["key-1"].startswith("-----BEGIN CERTIFICATE-----")
        assert fetched.max_age == 19800
        server.headers["Age"] = "800"
        assert fetch_certificates(server.url, timeout=5).max_age == 19000
        server.headers = {"Cache-Control": "no-cache"}
        assert fetch_certificates(server.url, timeout=5).max_age is None
    finally:
        server.close()


def test_fetch_failures_name_the_url_for_the_log():
    server = CertsServer(signing_key("key-1"))
    server.status = 500
    try:
        with pytest.raises(CertificatesUnavailable, match=r"127\.0\.0\.1"):
            fetch_certificates(server.url, timeout=5)
    finally:
        server.close()
