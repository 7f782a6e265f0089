"""The OpenAPI description of `enqueue/<name>/`: one operation per declared name.

Each name gets its own path (`/tasks/enqueue/order-paid/`), operation id
(`tasks_enqueue_order_paid`) and request body, built from its declaration: the plain JSON
body with the declared `schema` as its `kwargs`, a Pub/Sub push envelope, or a
structured CloudEvent whose `data` is the declared schema. The schema lists the names
declared when the URLconf was loaded (see `enqueue.declared_patterns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from django_tasks_temporal.api.declarations import Declaration, declared
from django_tasks_temporal.api.events import STRUCTURED_MEDIA_TYPE
from django_tasks_temporal.api.serializers import MAX_WAIT_SECONDS, ErrorSerializer, TaskSerializer
from django_tasks_temporal.api.views import COMMON_ERRORS, TriggerSchema

ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": {}}

PUBSUB_PUSH: dict[str, Any] = {
    "type": "object",
    "description": "A Pub/Sub push delivery (`--push-endpoint`), as Pub/Sub sends it.",
    "properties": {
        "message": {
            "type": "object",
            "properties": {
                "data": {
                    "type": "string",
                    "format": "byte",
                    "description": "Base64 of the message's JSON data.",
                },
                "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                "messageId": {"type": "string", "minLength": 1, "maxLength": 1024},
                "publishTime": {"type": "string", "format": "date-time"},
            },
            "required": ["messageId"],
        },
        "subscription": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
    "required": ["message", "subscription"],
}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Names one delivery of a JSON body: a repeated delivery starts nothing and "
    "answers the first one's task (`duplicate` is true). Without it (and without Cloud "
    "Scheduler's X-CloudScheduler-JobName and X-CloudScheduler-ScheduleTime headers), "
    "every delivery starts a task.",
)


class EnqueueQuery(serializers.Serializer[dict[str, Any]]):
    wait = serializers.IntegerField(
        default=0,
        min_value=0,
        max_value=MAX_WAIT_SECONDS,
        help_text=f"Seconds to wait for the task to finish before answering (0-"
        f"{MAX_WAIT_SECONDS}); 0 answers once it is started.",
    )


class EnqueuedSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The task's id, derived from the delivery.")
    duplicate = serializers.BooleanField(
        help_text="An earlier delivery of the same event started this task; this one "
        "started nothing."
    )
    task = TaskSerializer(allow_null=True, help_text="Its state after `wait` seconds (else null).")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


PARAMETERS: list[OpenApiParameter | type[serializers.Serializer[Any]]] = [
    EnqueueQuery,
    OpenApiParameter(
        "Location",
        str,
        OpenApiParameter.HEADER,
        response=[200, 202],
        required=True,
        description="The task's `status/<id>/` URL.",
    ),
]
RESPONSES = dict(
    sorted(
        {
            202: OpenApiResponse(EnqueuedSerializer, description="This delivery started the task."),
            200: OpenApiResponse(
                EnqueuedSerializer,
                description="An earlier delivery of this event started the task; nothing "
                "more was.",
            ),
            **COMMON_ERRORS,
            404: _error("No task is declared under this name (for this caller)."),
            413: _error("The body is over 3 MiB, or the task's arguments over the backend's "
                        "limit."),
            415: _error("The body is not JSON (or a structured CloudEvent)."),
            503: _error("Temporal did not answer in time (deliver again), or the task is "
                        "misconfigured."),
        }.items()
    )
)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def plain_body(declaration: Declaration) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The task's arguments; an Idempotency-Key header names the delivery.",
        "properties": {
            "args": {"type": "array", "items": {}, "description": "Positional arguments."},
            "kwargs": dict(declaration.schema or ANY_OBJECT),
            "run_after": {
                "type": "string",
                "format": "date-time",
                "nullable": True,
                "description": "Run no earlier than this.",
            },
        },
        "additionalProperties": False,
    }


def cloudevent_body(declaration: Declaration) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A CloudEvent 1.0 in structured mode (binary mode, with ce-* headers "
        "and the data as the body, is accepted too).",
        "properties": {
            "specversion": {"type": "string", "enum": ["1.0"]},
            "id": {"type": "string", "minLength": 1, "maxLength": 1024},
            "source": {"type": "string", "minLength": 1, "maxLength": 1024},
            "type": {"type": "string", "minLength": 1, "maxLength": 1024},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "data": dict(declaration.schema or ANY_OBJECT),
        },
        "required": ["specversion", "id", "source", "type"],
    }


class EnqueueSchema(TriggerSchema):
    """The operation of one declared name (the view's `declared_name`)."""

    def is_excluded(self) -> bool:
        # The catch-all `enqueue/<name>/` is not documented: each declared name is.
        return self.declaration is None

    @property
    def declaration(self) -> Declaration | None:
        name = getattr(self.view, "declared_name", None)
        return declared(name) if name else None

    def get_operation_id(self) -> str:
        assert self.declaration is not None
        return f"tasks_enqueue_{self.declaration.name.replace('-', '_')}"

    def get_summary(self) -> str:
        assert self.declaration is not None
        return f"Start {self.declaration.task_path} once per delivery"

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's
        assert self.declaration is not None
        body, named_by = {
            "auto": (
                "a JSON body, a Pub/Sub push envelope or a CloudEvent (told apart by their "
                "shape)",
                "Idempotency-Key, Pub/Sub message id and subscription, or CloudEvent source "
                "and id",
            ),
            "json": ("a JSON body", "Idempotency-Key"),
            "pubsub": ("a Pub/Sub push envelope", "Pub/Sub message id and subscription"),
            "cloudevents": (
                "a CloudEvent (binary or structured mode)",
                "CloudEvent source and id",
            ),
        }[self.declaration.format]
        return (
            f"Starts `{self.declaration.task_path}` from {body}. 202: this delivery started "
            f"the task. 200 with `duplicate`: an earlier delivery with the same {named_by} "
            "did, and nothing more was started. 503: Temporal did not answer in time; "
            "deliver again."
        )

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = super().get_override_parameters()
        if self.declaration is not None and self.declaration.format in ("auto", "json"):
            # Pub/Sub messages and CloudEvents name their own deliveries.
            parameters.insert(0, IDEMPOTENCY_KEY)
        return parameters

    def map_parsers(self) -> list[str]:
        if self.declaration is not None and self.declaration.format == "cloudevents":
            return [STRUCTURED_MEDIA_TYPE]
        return ["application/json"]

    def get_request_serializer(self) -> Any:
        declaration = self.declaration
        assert declaration is not None
        prefix = f"Enqueue{_camel(declaration.name)}"
        if declaration.format == "pubsub":
            ref = self._component("PubSubPush", PUBSUB_PUSH)
        elif declaration.format == "cloudevents":
            ref = self._component(f"{prefix}CloudEvent", cloudevent_body(declaration))
        else:
            ref = self._component(f"{prefix}Request", plain_body(declaration))
        return {media_type: ref for media_type in self.map_parsers()}

    def _component(self, name: str, schema: Mapping[str, Any]) -> dict[str, str]:
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=dict(schema)
        )
        self.registry.register_on_missing(component)
        return component.ref
