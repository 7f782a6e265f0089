"""What a request to `enqueue/<name>/` asks for: the task's arguments, and what names the delivery.

Three body formats (a declaration's `format`; "auto" tells them apart):

- json: `{"args": [...], "kwargs": {...}, "run_after": "..."}`, named by an
  `Idempotency-Key` header (or Cloud Scheduler's job name and schedule time);
- pubsub: a Pub/Sub push envelope, named by its subscription and `messageId`;
- cloudevents: a CloudEvent in binary mode (`ce-*` headers, the data as the body, as
  Eventarc sends it) or structured mode (`application/cloudevents+json`), named by its
  `source` and `id`.

An event's data (a Pub/Sub message's base64 `data`, a CloudEvent's `data`) is JSON; with
`arguments: "kwargs"` it is an object whose keys are the task's keyword arguments, with
`"event"` the task gets the whole event as one argument. Every problem is a
`ValidationError` whose field names say where (`message.data`, `ce-id`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from django_tasks_temporal.api.declarations import Arguments, Declaration, Format
from django_tasks_temporal.api.parsers import loads_strict

PLAIN_KEYS = frozenset({"args", "kwargs", "run_after"})
CLOUDEVENT_ATTRIBUTES = ("id", "source", "type", "specversion")
STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
# Eventarc wraps a Pub/Sub message in a CloudEvent of this type; its data is the envelope.
PUBSUB_CLOUDEVENT = "google.cloud.pubsub.topic.v1.messagePublished"
MAX_NAME_LENGTH = 1024  # an id, source, subscription or message id


@dataclass(frozen=True, kw_only=True)
class Call:
    """The task's arguments, its run_after, and what names this delivery (None: nothing)."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    run_after: datetime | None = None
    delivery: tuple[str, ...] | None = None


def invalid(where: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({where: [message]})


def read_call(request: Request, declaration: Declaration, key: str | None) -> Call:
    """The call a request asks for; `key` names a plain JSON delivery (Idempotency-Key)."""
    data: Any = request.data
    if data == {} and not request.META.get("CONTENT_LENGTH"):
        data = None  # DRF's stand-in for a request without a body
    form = detect(request, data) if declaration.format == "auto" else declaration.format
    if form == "pubsub":
        return pubsub_call(data, declaration.arguments)
    if form == "cloudevents":
        if "ce-specversion" in request.headers:
            return binary_cloudevent_call(request.headers, data, declaration.arguments)
        if request.content_type.split(";")[0].strip().lower() == STRUCTURED_MEDIA_TYPE:
            return structured_cloudevent_call(data, declaration.arguments)
        raise invalid("ce-specversion", "A CloudEvent needs ce-* headers or a structured body.")
    return plain_call(data, key)


def detect(request: Request, data: Any) -> Format:
    """Which format an "auto" declaration's request is in."""
    if "ce-specversion" in request.headers:
        return "cloudevents"
    if request.content_type.split(";")[0].strip().lower() == STRUCTURED_MEDIA_TYPE:
        return "cloudevents"
    if isinstance(data, dict) and isinstance(data.get("message"), dict) and "subscription" in data:
        return "pubsub"
    return "json"


# -- plain JSON -------------------------------------------------------------------------


def plain_call(data: Any, key: str | None) -> Call:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise invalid("non_field_errors", "The body must be a JSON object.")
    unknown = sorted(set(data) - PLAIN_KEYS)
    if unknown:
        raise invalid(unknown[0], "Unknown field: send args, kwargs and run_after only.")
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    if not isinstance(args, list):
        raise invalid("args", "Expected a list of arguments.")
    if not isinstance(kwargs, dict):
        raise invalid("kwargs", "Expected an object of keyword arguments.")
    run_after = data.get("run_after")
    if run_after is not None:
        try:
            run_after = serializers.DateTimeField().run_validation(run_after)
        except serializers.ValidationError as e:
            raise serializers.ValidationError({"run_after": e.detail}) from None
    return Call(
        args=args,
        kwargs=kwargs,
        run_after=run_after,
        delivery=("key", key) if key is not None else None,
    )


# -- Pub/Sub push -----------------------------------------------------------------------


def pubsub_call(data: Any, arguments: Arguments) -> Call:
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise invalid("message", "A Pub/Sub push envelope has a message object.")
    message = data["message"]
    subscription = _name(data.get("subscription"), "subscription")
    message_id = _name(message.get("messageId", message.get("message_id")), "message.messageId")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(v, str) for v in attributes.values()
    ):
        raise invalid("message.attributes", "Expected an object of strings.")
    publish_time = message.get("publishTime", message.get("publish_time"))
    if publish_time is not None and not isinstance(publish_time, str):
        raise invalid("message.publishTime", "Expected a timestamp string.")
    payload = _base64_json(message.get("data"), "message.data")
    event = {
        "data": payload,
        "attributes": attributes,
        "message_id": message_id,
        "publish_time": publish_time,
        "subscription": subscription,
    }
    delivery = ("pubsub", subscription, message_id)
    return _event_call(event, payload, "message.data", arguments, delivery)


# -- CloudEvents ------------------------------------------------------------------------


def binary_cloudevent_call(headers: Mapping[str, str], data: Any, arguments: Arguments) -> Call:
    attributes: dict[str, Any] = {
        name: _name(headers.get(f"ce-{name}"), f"ce-{name}") for name in CLOUDEVENT_ATTRIBUTES
    }
    attributes["time"] = headers.get("ce-time")
    attributes["subject"] = headers.get("ce-subject")
    return _cloudevent_call(attributes, data, "body", arguments, prefix="ce-")


def structured_cloudevent_call(data: Any, arguments: Arguments) -> Call:
    if not isinstance(data, dict):
        raise invalid("non_field_errors", "A structured CloudEvent is a JSON object.")
    attributes: dict[str, Any] = {
        name: _name(data.get(name), name) for name in CLOUDEVENT_ATTRIBUTES
    }
    for name in ("time", "subject"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise invalid(name, "Expected a string.")
        attributes[name] = data.get(name)
    if "data_base64" in data:
        payload = _base64_json(data["data_base64"], "data_base64")
        return _cloudevent_call(attributes, payload, "data_base64", arguments)
    return _cloudevent_call(attributes, data.get("data"), "data", arguments)


def _cloudevent_call(
    attributes: dict[str, Any], data: Any, where: str, arguments: Arguments, prefix: str = ""
) -> Call:
    if attributes["specversion"] != "1.0":
        raise invalid(f"{prefix}specversion", "Only CloudEvents 1.0 is supported.")
    delivery = ("cloudevents", attributes["source"], attributes["id"])
    payload = data
    if attributes["type"] == PUBSUB_CLOUDEVENT and arguments == "kwargs":
        # Eventarc's Pub/Sub trigger: the message's own data holds the arguments.
        payload = pubsub_call(data, arguments).kwargs
    return _event_call({**attributes, "data": data}, payload, where, arguments, delivery)


# -- shared -----------------------------------------------------------------------------


def _event_call(
    event: dict[str, Any],
    payload: Any,
    where: str,
    arguments: Arguments,
    delivery: tuple[str, ...],
) -> Call:
    if arguments == "event":
        return Call(args=[event], delivery=delivery)
    if payload is None:
        return Call(delivery=delivery)
    if not isinstance(payload, dict):
        raise invalid(where, "Expected a JSON object of keyword arguments.")
    return Call(kwargs=payload, delivery=delivery)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
        raise invalid(where, f"Expected a string of 1 to {MAX_NAME_LENGTH} characters.")
    return value


def _base64_json(value: Any, where: str) -> Any:
    """Base64-encoded JSON (None when absent or empty)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(where, "Expected a base64 string.")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(where, "Expected a base64 string.") from None
    if not raw.strip():
        return None
    try:
        return loads_strict(raw)
    except (ValueError, RecursionError):
        raise invalid(where, "Expected base64-encoded JSON (UTF-8).") from None
