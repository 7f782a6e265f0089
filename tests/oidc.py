"""Google's side of OIDC, offline: RSA keys, a loopback certs server and a token minter."""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

AUDIENCE = "https://tasks.test"
ISSUER = "https://accounts.google.com"
SCHEDULER = "scheduler@tests.iam.gserviceaccount.com"  # allowed everywhere (tests/settings.py)
READER = "reader@tests.example"  # allowed on status/ only (tests/settings.py)


class SigningKey:
    """An RSA key, its self-signed x509 certificate, and a kid."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tests")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256())
        )
        self.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(self._signer, claims, key_id=kid or self.kid).decode()  # type: ignore[no-any-return]

    @functools.cached_property
    def _signer(self) -> crypt.RSASigner:
        # Loading a private key takes ~100 ms (cryptography checks it): once per key.
        return crypt.RSASigner.from_string(self.private_pem, key_id=self.kid)


@functools.cache
def signing_key(kid: str) -> SigningKey:
    """One key per kid for the whole session (RSA key generation is slow)."""
    return SigningKey(kid)


def claims(**overrides: Any) -> dict[str, Any]:
    """A Cloud Scheduler-like ID token payload, valid for an hour from now."""
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "azp": "1234567890",
        "sub": "1234567890",
        "email": SCHEDULER,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token signed with HS256 using `secret`, or with no signature at all."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is what some tests want


class CertsServer:
    """Serves {kid: x509 PEM} on 127.0.0.1 (a free port), counting fetches.

    Set `status` to answer errors, `body` to serve something else, `delay` to answer
    slowly, `headers` to send more headers; `close()` makes the port refuse
    connections.
    """

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.status = 200
        self.delay = 0.0
        self.headers: dict[str, str] = {}
        self.body: bytes | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.fetches += 1
                time.sleep(server.delay)
                body = server.body or json.dumps(
                    {k.kid: k.certificate_pem for k in server.keys}
                ).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth2/v1/certs"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)


@contextlib.contextmanager
def serving_certs(*keys: SigningKey) -> Iterator[CertsServer]:
    """A certs server for `keys`, made the configured certs URL; caches cleared after."""
    from django.test import override_settings

    from django_tasks_temporal.api.certs import certificate_cache
    from django_tasks_temporal.api.verified_tokens import verified_tokens

    server = CertsServer(*keys)
    try:
        with override_settings(TASKS_API_OIDC_CERTS_URL=server.url):
            yield server
    finally:
        server.close()
        certificate_cache.clear()
        verified_tokens.clear()
