"""Who is calling: Google-signed OIDC ID tokens in `Authorization: Bearer <token>`.

The token is verified with google-auth against the cached certificates (signature, `aud`,
`exp`/`iat` with TASKS_API_OIDC_CLOCK_SKEW), then its `iss`, `nbf`, `email` and
`email_verified` are checked here, because `google.auth.jwt.decode` does not. Clients
only ever see fixed messages and codes; the reasons go to the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from google.auth import jwt
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

# Registers the OpenAPI security scheme with drf-spectacular, which only knows the
# extensions whose module was imported: whoever routes to these views has imported this.
from django_tasks_temporal.api import schema  # noqa: F401
from django_tasks_temporal.api.certs import CertificatesUnavailable, certificate_cache
from django_tasks_temporal.api.conf import conf, is_closed
from django_tasks_temporal.api.verified_tokens import verified_tokens

logger = logging.getLogger("django_tasks_temporal.api")

# Real ID tokens are about 1 KiB; anything far larger is not one.
MAX_AUTHORIZATION_HEADER = 8192


class ServiceNotConfigured(PermissionDenied):
    default_detail = "The trigger service is not configured; see the server's system checks."
    default_code = "not_configured"


class ServiceUnavailable(APIException):
    status_code = 503
    default_detail = "Credentials cannot be verified right now; try again later."
    default_code = "certs_unavailable"


class InvalidAuthorizationHeader(AuthenticationFailed):
    default_detail = "The Authorization header must be 'Bearer <ID token>'."
    default_code = "invalid_header"


class InvalidToken(AuthenticationFailed):
    default_detail = "The bearer token is not a valid ID token for this service."
    default_code = "invalid_token"


@dataclass(frozen=True, kw_only=True)
class OIDCIdentity:
    """The caller, as `request.user`: a verified e-mail address and the token's claims."""

    email: str
    subject: str
    claims: Mapping[str, Any]

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def __str__(self) -> str:
        return self.email


class AnonymousCaller:
    """`request.user` for a caller without credentials, in place of DRF's default.

    DRF's default is django.contrib.auth's `AnonymousUser`, whose module cannot even be
    imported in a project without `django.contrib.auth` and `contenttypes` (an API-only
    project): these views' callers are OIDC identities or nobody, never Django users.
    """

    is_authenticated: ClassVar[bool] = False
    is_anonymous: ClassVar[bool] = True

    def __str__(self) -> str:
        return "anonymous"


ANONYMOUS = AnonymousCaller()


class OIDCRequest(Request):
    """DRF's request whose caller is `ANONYMOUS` when no authenticator accepted it.

    The same as `UNAUTHENTICATED_USER = None` in DRF's settings, for these views only,
    whatever the project configured for its own views.
    """

    def _not_authenticated(self) -> None:
        self._authenticator = None
        self.user = ANONYMOUS  # type: ignore[assignment]  # the stubs expect a Django user
        self.auth = None


class OIDCAuthentication(BaseAuthentication):
    """DRF authentication: None without credentials, 401 for bad ones, 403 when closed."""

    keyword = "Bearer"
    www_authenticate_realm = "tasks"

    def authenticate(self, request: Request) -> tuple[OIDCIdentity, Mapping[str, Any]] | None:
        # Closed before anything else: an unconfigured service never looks at tokens.
        if is_closed():
            raise ServiceNotConfigured()
        token = self.bearer_token(request)
        if token is None:
            return None
        claims = self.verify(token)
        identity = OIDCIdentity(email=claims["email"], subject=claims["sub"], claims=claims)
        return identity, claims

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'

    def bearer_token(self, request: Request) -> str | None:
        """The token, None when there are no Bearer credentials (DRF: not this scheme)."""
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not isinstance(header, str) or not header.isascii():
            raise InvalidAuthorizationHeader()
        if len(header) > MAX_AUTHORIZATION_HEADER:
            raise InvalidAuthorizationHeader()
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise InvalidAuthorizationHeader()
        return parts[1]

    def verify(self, token: str) -> Mapping[str, Any]:
        """The token's claims, once every check passed; raises InvalidToken otherwise."""
        judged_by = (
            tuple(conf.TASKS_API_OIDC_AUDIENCES),
            tuple(conf.TASKS_API_OIDC_ISSUERS),
            conf.TASKS_API_OIDC_CERTS_URL,
        )
        certs = self._certificates(_unverified_kid(token))
        known = verified_tokens.get(token, judged_by, certs, conf.TASKS_API_OIDC_CLOCK_SKEW)
        if known is not None:
            return known
        claims = self._verify(token, certs)
        verified_tokens.put(token, judged_by, certs, claims)
        return claims

    def _verify(self, token: str, certs: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            claims: Mapping[str, Any] = jwt.decode(  # type: ignore[no-untyped-call]
                token,
                certs=certs,
                audience=conf.TASKS_API_OIDC_AUDIENCES,
                clock_skew_in_seconds=conf.TASKS_API_OIDC_CLOCK_SKEW,
            )
        # Token content is attacker-controlled: whatever google-auth raises on it
        # (GoogleAuthError, ValueError, binascii.Error, TypeError, RecursionError on
        # nested JSON ...) is a rejected token, never a 500.
        except Exception as e:
            logger.info("Rejected an ID token: %s: %s", type(e).__name__, e)
            raise InvalidToken() from None
        reason = _claims_problem(claims)
        if reason is not None:
            logger.info("Rejected an ID token: %s", reason)
            raise InvalidToken()
        return claims

    def _certificates(self, kid: str | None) -> Mapping[str, str]:
        try:
            return certificate_cache.get(
                conf.TASKS_API_OIDC_CERTS_URL,
                kid=kid,
                default_max_age=conf.TASKS_API_OIDC_CERTS_CACHE_SECONDS,
                timeout=conf.TASKS_API_OIDC_CERTS_TIMEOUT,
            )
        except CertificatesUnavailable as e:
            logger.warning("%s", e)
            raise ServiceUnavailable() from None


def _unverified_kid(token: str) -> str | None:
    """The header's key id (to notice key rotation); the signature is checked later."""
    try:
        kid = jwt.decode_header(token).get("kid")  # type: ignore[no-untyped-call]
    except Exception as e:  # same reasoning as in verify()
        logger.info("Rejected an ID token: %s: %s", type(e).__name__, e)
        raise InvalidToken() from None
    return kid if isinstance(kid, str) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _claims_problem(claims: Mapping[str, Any]) -> str | None:
    """Why verified claims are still unacceptable, or None."""
    skew = conf.TASKS_API_OIDC_CLOCK_SKEW
    if not isinstance(claims.get("aud"), str):
        return f"aud {claims.get('aud')!r} is not a string"
    iss = claims.get("iss")
    if not isinstance(iss, str) or iss not in conf.TASKS_API_OIDC_ISSUERS:
        return f"iss {iss!r} is not accepted"
    if not _is_number(claims.get("exp")) or not _is_number(claims.get("iat")):
        return "exp or iat is not a number"
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or time.time() < nbf - skew):
        return f"nbf {nbf!r} is in the future"
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        return "sub is missing"
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return "email is missing"
    if claims.get("email_verified") is not True:
        return f"email {email!r} is not verified"
    return None
