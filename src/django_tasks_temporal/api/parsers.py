"""Request bodies as real callers send them: JSON (also under Cloud Scheduler's default
`application/octet-stream` and `text/plain`), form bodies, and no body at all; and for
`enqueue/<name>/`, events: any JSON value, also as `application/cloudevents+json`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, FormParser

from django_tasks_temporal.api.errors import PayloadTooLarge

# Trigger bodies are a few flags; anything bigger is not one.
MAX_BODY_BYTES = 64 * 1024
# An event carries a task's arguments: Temporal takes 2 MiB of them, which a Pub/Sub
# envelope sends base64-encoded (4/3 as large), plus the envelope.
MAX_EVENT_BODY_BYTES = 3 * 1024 * 1024


def _read_limited(stream: IO[bytes] | None, limit: int = MAX_BODY_BYTES) -> bytes:
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads_strict(body: bytes) -> Any:
    """JSON as other systems read it: UTF-8, no NaN or Infinity, no lone surrogate
    (which no UTF-8 encoder accepts). Raises ValueError otherwise."""
    data = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError is a ValueError
    return data


class JSONBodyParser(BaseParser):
    """A JSON object body (empty means `{}`), size-limited, with a fixed error message."""

    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = _read_limited(stream)
        if not body.strip():
            return {}
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise ParseError("The body is not valid JSON.", "parse_error") from e
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.", "parse_error")
        return data


class OctetStreamJSONParser(JSONBodyParser):
    """Cloud Scheduler sends HTTP-target bodies as application/octet-stream by default."""

    media_type = "application/octet-stream"


class TextJSONParser(JSONBodyParser):
    media_type = "text/plain"


class LimitedFormParser(FormParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        length = getattr(request, "META", {}).get("CONTENT_LENGTH") or 0
        try:
            too_big = int(length) > MAX_BODY_BYTES
        except ValueError:
            too_big = False
        if too_big:
            raise PayloadTooLarge()
        return super().parse(stream, media_type, parser_context)


PARSERS = [JSONBodyParser, OctetStreamJSONParser, TextJSONParser, LimitedFormParser]


class EventParser(BaseParser):
    """Any JSON value up to MAX_EVENT_BODY_BYTES (None for an empty body), read strictly."""

    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        body = _read_limited(stream, MAX_EVENT_BODY_BYTES)
        if not body.strip():
            return None
        try:
            return loads_strict(body)
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            raise ParseError("The body is not valid JSON.", "parse_error") from e


class CloudEventParser(EventParser):
    """A CloudEvent in structured mode."""

    media_type = "application/cloudevents+json"


class OctetStreamEventParser(EventParser):
    media_type = "application/octet-stream"


class TextEventParser(EventParser):
    media_type = "text/plain"


EVENT_PARSERS: list[type[BaseParser]] = [
    EventParser,
    CloudEventParser,
    OctetStreamEventParser,
    TextEventParser,
]
