"""OIDC authentication, per-endpoint allow-lists and the trigger service's system checks."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.test import Client
from rest_framework.exceptions import NotAuthenticated

from django_tasks_temporal.api import authentication, certs
from django_tasks_temporal.api.certs import certificate_cache
from django_tasks_temporal.api.permissions import EndpointAllowList
from django_tasks_temporal.api.verified_tokens import verified_tokens
from tests.oidc import (
    AUDIENCE,
    READER,
    SCHEDULER,
    CertsServer,
    b64,
    claims,
    signing_key,
    unsigned_token,
)

KEY = signing_key("key-1")
OTHER_KEY = signing_key("key-2")

# Every body a refused request may carry: fixed sentences, never exception text.
FIXED_DETAILS = {
    str(authentication.InvalidToken.default_detail),
    str(authentication.InvalidAuthorizationHeader.default_detail),
    str(authentication.ServiceNotConfigured.default_detail),
    str(authentication.ServiceUnavailable.default_detail),
    str(NotAuthenticated.default_detail),
    EndpointAllowList.message,
}


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    certificate_cache.clear()
    verified_tokens.clear()
    yield
    certificate_cache.clear()
    verified_tokens.clear()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The certificate cache's clock, moved by hand."""
    fake = FakeClock()
    monkeypatch.setattr(certificate_cache, "_clock", fake)
    return fake


@pytest.fixture
def certs_server(settings: Any) -> Iterator[CertsServer]:
    server = CertsServer(KEY)
    settings.TASKS_API_OIDC_CERTS_URL = server.url
    yield server
    server.close()


def call(client: Client, token: str | None, endpoint: str = "run", **headers: str) -> Any:
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return client.get(f"/protected/{endpoint}/", headers=headers)


def assert_refused(response: Any, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.json()["detail"] in FIXED_DETAILS
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="tasks"'
    else:
        assert not response.has_header("WWW-Authenticate")


# -- accepted -----------------------------------------------------------------------


def test_a_valid_token_is_accepted(client, certs_server):
    response = call(client, KEY.sign(claims()))
    assert response.status_code == 200, response.content
    assert response.json() == {"email": SCHEDULER, "endpoint": "run"}


def test_an_accepted_identity_carries_its_claims():
    identity = authentication.OIDCIdentity(email=READER, subject="42", claims={"sub": "42"})
    assert identity.is_authenticated and not identity.is_anonymous
    assert str(identity) == READER


# -- 401: no, or bad, credentials ---------------------------------------------------


def test_no_authorization_header_is_401_with_bearer_challenge(client, certs_server):
    assert_refused(call(client, None), 401)
    assert certs_server.fetches == 0


@pytest.mark.parametrize(
    "header",
    [
        "Basic c2NoZWR1bGVyOnNlY3JldA==",
        "Bearer",
        "Bearer a b",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer ...",
        "Bearer e30.e30.",
        "Bearer !!!.???.***",
        "Bearer W10.W10.AA",  # header and payload are JSON lists
        "Bearer bnVsbA.bnVsbA.AA",  # JSON null
        "Bearer " + "W" * 3000 + ".e30.AA",  # deeply nested JSON
    ],
)
def test_garbage_credentials_are_401(client, certs_server, header):
    assert_refused(call(client, None, Authorization=header), 401)


def test_a_non_ascii_authorization_header_is_401(client, certs_server):
    assert_refused(call(client, None, Authorization="Bearer ünïcødé.tökên.✓"), 401)
    assert_refused(call(client, None, Authorization="Bearer \udcff\udcfe"), 401)
    # Even around a valid token: str.split() would take these for spaces.
    token = KEY.sign(claims())
    assert_refused(call(client, None, Authorization=f"Bearer\u00a0{token}"), 401)
    assert_refused(call(client, None, Authorization=f"Bearer {token}\u2028"), 401)


def test_an_oversized_authorization_header_is_401(client, certs_server):
    token = KEY.sign(claims(padding="x" * 9000))
    assert_refused(call(client, token), 401)
    assert certs_server.fetches == 0


def test_an_unsigned_alg_none_token_is_401(client, certs_server):
    token = unsigned_token({"alg": "none", "typ": "JWT", "kid": KEY.kid}, claims(), None)
    assert_refused(call(client, token), 401)


def test_hs256_signed_with_the_public_key_is_401(client, certs_server):
    header = {"alg": "HS256", "typ": "JWT", "kid": KEY.kid}
    for secret in (KEY.certificate_pem.encode(), KEY.public_pem):
        assert_refused(call(client, unsigned_token(header, claims(), secret)), 401)


def test_an_unknown_kid_is_401(client, certs_server):
    assert_refused(call(client, OTHER_KEY.sign(claims())), 401)


def test_a_known_kid_signed_by_another_key_is_401(client, certs_server):
    assert_refused(call(client, OTHER_KEY.sign(claims(), kid=KEY.kid)), 401)


def test_a_tampered_payload_is_401(client, certs_server):
    token = KEY.sign(claims(email="intruder@evil.example"))
    header, payload, signature = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["email"] = SCHEDULER
    forged = f"{header}.{b64(json.dumps(tampered).encode())}.{signature}"
    assert_refused(call(client, token), 403)  # the genuine token: valid, not allowed
    assert_refused(call(client, forged), 401)


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://other.example"},
        {"aud": [AUDIENCE]},
        {"aud": None},
        {"iss": "https://evil.example"},
        {"iss": None},
        {"iss": ["https://accounts.google.com"]},
        {"email_verified": False},
        {"email_verified": "true"},
        {"email_verified": None},
        {"email": None},
        {"email": ""},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"exp": "tomorrow"},
        {"iat": "now"},
        {"exp": True},
    ],
    ids=repr,
)
def test_unacceptable_claims_are_401(client, certs_server, overrides):
    assert_refused(call(client, KEY.sign(claims(**overrides))), 401)


def test_expired_beyond_the_clock_skew_is_401(client, certs_server):
    now = int(time.time())
    assert_refused(call(client, KEY.sign(claims(iat=now - 3700, exp=now - 60))), 401)


def test_expired_within_the_clock_skew_is_accepted(client, certs_server):
    now = int(time.time())
    assert call(client, KEY.sign(claims(iat=now - 3600, exp=now - 5))).status_code == 200


def test_the_clock_skew_is_configurable(client, certs_server, settings):
    now = int(time.time())
    token = KEY.sign(claims(iat=now - 3600, exp=now - 30))
    assert_refused(call(client, token), 401)
    settings.TASKS_API_OIDC_CLOCK_SKEW = 60
    assert call(client, token).status_code == 200


def test_issued_in_the_future_beyond_the_skew_is_401(client, certs_server):
    now = int(time.time())
    assert_refused(call(client, KEY.sign(claims(iat=now + 60, exp=now + 3660))), 401)
    assert call(client, KEY.sign(claims(iat=now + 5, exp=now + 3605))).status_code == 200


def test_not_before_in_the_future_beyond_the_skew_is_401(client, certs_server):
    now = int(time.time())
    assert_refused(call(client, KEY.sign(claims(nbf=now + 60))), 401)
    assert call(client, KEY.sign(claims(nbf=now + 5))).status_code == 200


def test_the_issuer_without_scheme_is_accepted_by_default(client, certs_server):
    assert call(client, KEY.sign(claims(iss="accounts.google.com"))).status_code == 200


# -- 403: allow-lists ----------------------------------------------------------------


def test_an_identity_not_allowed_is_403(client, certs_server):
    assert_refused(call(client, KEY.sign(claims(email="someone@example.com"))), 403)


def test_an_identity_allowed_for_status_is_not_allowed_to_purge(client, certs_server):
    token = KEY.sign(claims(email=READER))
    assert call(client, token, "status").json() == {"email": READER, "endpoint": "status"}
    for endpoint in ("purge", "run", "run-one", "execute"):
        assert_refused(call(client, token, endpoint), 403)


def test_allow_lists_compare_emails_case_insensitively(client, certs_server):
    assert call(client, KEY.sign(claims(email=READER.upper())), "status").status_code == 200
    assert call(client, KEY.sign(claims(email=SCHEDULER.title())), "purge").status_code == 200


def test_an_identity_allowed_everywhere_may_call_every_endpoint(client, certs_server):
    token = KEY.sign(claims())
    for endpoint in ("run", "run-one", "execute", "status", "purge"):
        assert call(client, token, endpoint).status_code == 200


def test_a_view_without_a_known_endpoint_refuses_everyone(client, certs_server):
    assert_refused(call(client, KEY.sign(claims()), "undeclared"), 403)


# -- closed by default ---------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, check_id",
    [
        ({"TASKS_API_OIDC_AUDIENCES": []}, "W101"),
        ({"TASKS_API_ALLOWED_EMAILS": [], "TASKS_API_ENDPOINT_EMAILS": {}}, "W102"),
        ({"TASKS_API_ALLOWED_EMAILS": [], "TASKS_API_ENDPOINT_EMAILS": {"status": []}}, "W102"),
        ({"TASKS_API_OIDC_AUDIENCES": AUDIENCE}, "E101"),
        ({"TASKS_API_ALLOWED_EMAILS": SCHEDULER}, "E102"),
        ({"TASKS_API_ALLOWED_EMAILS": ["scheduler"]}, "E102"),
        ({"TASKS_API_ENDPOINT_EMAILS": {"purge-all": [SCHEDULER]}}, "E103"),
        ({"TASKS_API_ENDPOINT_EMAILS": {"status": READER}}, "E103"),
        ({"TASKS_API_ENDPOINT_EMAILS": [READER]}, "E103"),
        ({"TASKS_API_OIDC_ISSUERS": []}, "E104"),
        ({"TASKS_API_OIDC_CERTS_URL": "file:///etc/certs.json"}, "E105"),
        ({"TASKS_API_OIDC_CLOCK_SKEW": "10"}, "E106"),
        ({"TASKS_API_OIDC_CLOCK_SKEW": 3600}, "E106"),
        ({"TASKS_API_OIDC_CERTS_CACHE_SECONDS": 0}, "E107"),
        ({"TASKS_API_OIDC_CERTS_TIMEOUT": float("nan")}, "E108"),
    ],
)
def test_an_unconfigured_service_is_closed_and_the_checks_say_why(
    client, certs_server, settings, overrides, check_id
):
    for name, value in overrides.items():
        setattr(settings, name, value)
    ours = [m for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]
    assert [m.id for m in ours] == [f"django_tasks_temporal.{check_id}"]
    assert ours[0].hint and ours[0].is_serious() == check_id.startswith("E")
    if check_id.startswith("W"):
        assert "answer 403" in ours[0].msg
    # Refused before the token is looked at: a valid one, none, or garbage alike.
    for token in (KEY.sign(claims()), None, "garbage"):
        response = call(client, token)
        assert_refused(response, 403)
        assert response.json()["detail"] == authentication.ServiceNotConfigured.default_detail
    assert certs_server.fetches == 0


def test_the_closed_warnings_need_the_service_mounted(settings):
    settings.TASKS_API_OIDC_AUDIENCES = []
    settings.ROOT_URLCONF = "tests.urls_backend_only"
    assert not [m for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]
    settings.TASKS_API_OIDC_AUDIENCES = AUDIENCE
    ids = [m.id for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]
    assert ids == ["django_tasks_temporal.E101"]


def test_a_plain_http_certs_url_is_a_warning_but_not_closed(client, certs_server, settings):
    settings.TASKS_API_OIDC_CERTS_URL = "http://certs.example/oauth2/v1/certs"
    ids = [m.id for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]
    assert ids == ["django_tasks_temporal.W103"]
    settings.TASKS_API_OIDC_CERTS_URL = certs_server.url
    assert not [m for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]


def test_the_default_settings_are_closed(settings):
    for name in ("TASKS_API_OIDC_AUDIENCES", "TASKS_API_ALLOWED_EMAILS",
                 "TASKS_API_ENDPOINT_EMAILS", "TASKS_API_OIDC_CERTS_URL"):
        delattr(settings, name)
    ids = [m.id for m in checks.run_checks() if m.id.startswith("django_tasks_temporal.")]
    assert ids == ["django_tasks_temporal.W101", "django_tasks_temporal.W102"]
    assert_refused(call(Client(), KEY.sign(claims())), 403)


# -- certificates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", ["500", "404", "closed", b"<html>", b"[]", b"{}", b'{"key-1": 1}', b"\xff"]
)
def test_certificates_unavailable_is_503_never_a_pass(client, certs_server, failure):
    if failure == "closed":
        certs_server.close()
    elif isinstance(failure, bytes):
        certs_server.body = failure
    else:
        certs_server.status = int(failure)
    for token in (KEY.sign(claims()), KEY.sign(claims(email="someone@example.com"))):
        assert_refused(call(client, token), 503)


def test_certificates_timeout_is_503(client, certs_server, settings):
    settings.TASKS_API_OIDC_CERTS_TIMEOUT = 0.2
    certs_server.delay = 1
    started = time.monotonic()
    assert_refused(call(client, KEY.sign(claims())), 503)
    assert time.monotonic() - started < 1


def test_certificates_are_fetched_once_per_cache_period(client, certs_server):
    token = KEY.sign(claims())
    for _ in range(50):
        assert call(client, token).status_code == 200
    assert certs_server.fetches == 1


def test_concurrent_requests_share_one_fetch(certs_server):
    certs_server.delay = 0.3
    token = KEY.sign(claims())
    statuses: list[int] = []

    def request() -> None:
        statuses.append(call(Client(), token).status_code)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 20
    assert certs_server.fetches == 1


def test_certificates_are_refetched_after_the_cache_period(
    client, certs_server, settings, clock
):
    settings.TASKS_API_OIDC_CERTS_CACHE_SECONDS = 120
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    clock.now += 119
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 1
    clock.now += 1
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 2


def test_cache_control_max_age_is_honoured(client, certs_server, settings, clock):
    settings.TASKS_API_OIDC_CERTS_CACHE_SECONDS = 120
    certs_server.headers["Cache-Control"] = "public, max-age=3600, must-revalidate"
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    clock.now += 3599
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 1
    clock.now += 1
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 2


def test_a_new_key_is_fetched_early_but_at_most_once_a_minute(client, certs_server, clock):
    assert call(client, KEY.sign(claims())).status_code == 200
    certs_server.keys.append(OTHER_KEY)  # the provider rotates its keys
    rotated = OTHER_KEY.sign(claims())
    clock.now += 59
    assert_refused(call(client, rotated), 401)  # fetched a minute ago: not yet
    clock.now += 1
    assert call(client, rotated).status_code == 200
    assert certs_server.fetches == 2
    for n in range(20):
        clock.now += 2.9
        assert_refused(call(client, OTHER_KEY.sign(claims(), kid=f"made-up-{n}")), 401)
    assert certs_server.fetches == 2
    clock.now += 2  # a minute after the last fetch: one more
    assert_refused(call(client, OTHER_KEY.sign(claims(), kid="made-up-21")), 401)
    assert certs_server.fetches == 3


def test_a_failed_early_refetch_keeps_the_unexpired_certificates(client, certs_server, clock):
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    certs_server.status = 500
    clock.now += 60
    assert_refused(call(client, OTHER_KEY.sign(claims())), 401)
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 2


def test_expired_certificates_are_not_used_when_the_refetch_fails(client, certs_server, clock):
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    certs_server.status = 500
    clock.now += 300
    assert_refused(call(client, token), 503)
    # Failing fast for a few seconds rather than queueing every request on a fetch.
    for _ in range(10):
        assert_refused(call(client, token), 503)
    assert certs_server.fetches == 2
    certs_server.status = 200
    clock.now += certs.FAILURE_BACKOFF
    assert call(client, token).status_code == 200
    assert certs_server.fetches == 3


# -- OpenAPI ---------------------------------------------------------------------------


def test_the_openapi_schema_declares_the_bearer_scheme(settings):
    from drf_spectacular.generators import SchemaGenerator

    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    schema = SchemaGenerator().get_schema(request=None, public=True)
    scheme = schema["components"]["securitySchemes"]["oidcBearer"]
    assert {k: scheme[k] for k in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "Google" in scheme["description"]
    assert schema["paths"]["/protected/status/"]["get"]["security"] == [{"oidcBearer": []}]


# -- verified tokens are remembered ---------------------------------------------------


def test_a_repeated_token_is_verified_once(client, certs_server, monkeypatch):
    decoded = []
    real_decode = authentication.jwt.decode
    monkeypatch.setattr(
        authentication.jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k)
    )
    token = KEY.sign(claims())
    for _ in range(5):
        assert call(client, token).status_code == 200
    assert len(decoded) == 1
    assert call(client, token, "status").status_code == 200  # allow-lists still apply
    assert call(client, token, "undeclared").status_code == 403


def test_a_remembered_token_still_expires(client, certs_server, settings):
    settings.TASKS_API_OIDC_CLOCK_SKEW = 0
    now = int(time.time())
    token = KEY.sign(claims(iat=now - 10, exp=now + 1))
    assert call(client, token).status_code == 200
    time.sleep(max(0.0, now + 2.3 - time.time()))  # google-auth counts whole seconds
    assert_refused(call(client, token), 401)


def test_a_remembered_token_is_judged_again_when_the_audience_changes(
    client, certs_server, settings
):
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    settings.TASKS_API_OIDC_AUDIENCES = ["https://elsewhere.test"]
    assert_refused(call(client, token), 401)


def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(
    client, certs_server, clock
):
    token = KEY.sign(claims())
    assert call(client, token).status_code == 200
    certs_server.keys = [OTHER_KEY]  # Google stopped publishing the token's key
    clock.now += 300  # the certificates expire and are fetched again
    assert_refused(call(client, token), 401)
