"""The trigger endpoints: each validates its input, calls `operations`, and answers JSON.

Authentication (OIDC ID tokens) and the per-endpoint allow-list run before anything
else, so an anonymous caller learns nothing about backends or task ids.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest
from django.tasks import TaskResultStatus
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_tasks_temporal.api import errors
from django_tasks_temporal.api.authentication import OIDCAuthentication, OIDCRequest
from django_tasks_temporal.api.conf import conf
from django_tasks_temporal.api.parsers import PARSERS
from django_tasks_temporal.api.permissions import EndpointAllowList
from django_tasks_temporal.api.serializers import (
    ErrorSerializer,
    ExecuteRequest,
    ExecuteSerializer,
    PurgedSerializer,
    PurgeRequest,
    ReleasedSerializer,
    RunOneRequest,
    RunOneSerializer,
    RunRequest,
    StatusQuery,
    TaskSerializer,
    task_data,
)
from django_tasks_temporal.api.status_cache import status_cache
from django_tasks_temporal.operations import TaskOperations

# Workflow ids this backend makes are UUIDs; anything much longer is not one of ours.
MAX_ID_LENGTH = 255


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Names one delivery: a repeated delivery releases nothing more and answers "
    "what the first released (`duplicate` is true). Cloud Scheduler's X-CloudScheduler-JobName "
    "and X-CloudScheduler-ScheduleTime headers serve the same purpose when this is absent.",
)

COMMON_ERRORS = {
    400: _error("Bad input: `errors` lists the problem of each field."),
    401: _error("No valid OIDC ID token (the response carries `WWW-Authenticate: Bearer`)."),
    403: _error("The token's identity may not call this endpoint, or none is configured."),
    413: _error("The body is larger than 64 KiB."),
    415: _error("The body's content type is not JSON or a form."),
    503: _error("Temporal, or Google's certificates, could not be reached."),
}
TASK_ERRORS = {
    **COMMON_ERRORS,
    404: _error("No task has this id."),
}


class TriggerSchema(AutoSchema):
    """Stable operation ids (`tasks_run`, `tasks_run_one`...): generated clients name
    their functions after them."""

    def get_operation_id(self) -> str:
        endpoint: str = getattr(self.view, "endpoint")  # noqa: B009
        return f"tasks_{endpoint.replace('-', '_')}"

    def map_parsers(self) -> list[str]:
        # The parsers also accept form bodies, and JSON sent as application/octet-stream
        # or text/plain (Cloud Scheduler's default). The schema documents JSON only:
        # generated clients (openapi-python-client) mishandle alternative body types.
        return ["application/json"]


class TriggerView(APIView):
    """What every trigger endpoint shares: OIDC, allow-lists, JSON, one error shape."""

    endpoint: ClassVar[str]
    authentication_classes = [OIDCAuthentication]
    permission_classes = [EndpointAllowList]
    parser_classes = PARSERS
    renderer_classes = [JSONRenderer]
    schema = TriggerSchema()

    def get_exception_handler(self) -> Any:
        return errors.exception_handler

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # DRF's own, but for the request class: nobody is ANONYMOUS, not AnonymousUser.
        return OIDCRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    def validated(self, serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def delivery(request: Request) -> str | None:
        """What names one delivery of a trigger, so a repeated one changes nothing:
        an `Idempotency-Key` header, else Cloud Scheduler's job name and schedule time
        (the same on each retry of one scheduled run)."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            job = request.headers.get("X-CloudScheduler-JobName")
            when = request.headers.get("X-CloudScheduler-ScheduleTime")
            key = f"{job}@{when}" if job and when else None
        if key is not None and not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
            raise serializers.ValidationError(
                {"Idempotency-Key": ["Use 1 to 255 printable ASCII characters."]}
            )
        return key

    @staticmethod
    def task_id(value: str) -> str:
        if len(value) > MAX_ID_LENGTH or not value.isprintable():
            raise errors.TaskNotFound()
        return value


@extend_schema(
    tags=["tasks"],
    summary="Release the tasks waiting on a trigger-gated queue",
    description="With `max_tasks`, the ones that should run first (highest priority, then "
    "oldest) get a signal each; without, one Temporal batch signal releases them all and "
    "its job id is returned. A future run_after is kept unless `force`.",
    request=RunRequest,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: ReleasedSerializer, **COMMON_ERRORS},
)
class RunView(TriggerView):
    endpoint = "run"

    def post(self, request: Request) -> Response:
        data = self.validated(RunRequest, request.data)
        released = TaskOperations(data["backend"]).run(
            data["queue_name"],
            max_tasks=data["max_tasks"],
            force=data["force"],
            wait=data["wait"],
            delivery=self.delivery(request),
        )
        return Response(ReleasedSerializer(released).data)


@extend_schema(
    tags=["tasks"],
    summary="Release the waiting task that should run next",
    description="Highest priority first, then the oldest. `processed` is false when "
    "no task waits.",
    request=RunOneRequest,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: RunOneSerializer, **COMMON_ERRORS},
)
class RunOneView(TriggerView):
    endpoint = "run-one"

    def post(self, request: Request) -> Response:
        data = self.validated(RunOneRequest, request.data)
        released = TaskOperations(data["backend"]).run_one(
            data["queue_name"],
            force=data["force"],
            wait=data["wait"],
            delivery=self.delivery(request),
        )
        body = {
            "processed": bool(released.task_ids),
            "duplicate": released.duplicate,
            "id": released.task_ids[0] if released.task_ids else None,
            "task": released.tasks[0] if released.tasks else None,
        }
        return Response(RunOneSerializer(body).data)


@extend_schema(
    tags=["tasks"],
    summary="Run this task now",
    description="Releases a waiting task (keeping a future run_after unless `force`); "
    "with `allow_retry`, re-runs a FAILED task under the same id. 409 when the task is "
    "running or finished.",
    request=ExecuteRequest,
    responses={
        200: ExecuteSerializer,
        409: _error("The task is running, or has finished (see `code`)."),
        **TASK_ERRORS,
    },
)
class ExecuteView(TriggerView):
    endpoint = "execute"

    def post(self, request: Request, task_id: str) -> Response:
        task_id = self.task_id(task_id)
        data = self.validated(ExecuteRequest, request.data)
        ops = TaskOperations(data["backend"])
        status_cache.forget(data["backend"].alias, task_id)
        released = ops.execute(
            task_id, force=data["force"], allow_retry=data["allow_retry"], wait=data["wait"]
        )
        body = {
            "id": task_id,
            "action": "retried" if released.retried else "released",
            "task": released.tasks[0] if released.tasks else ops.get(task_id),
        }
        return Response(ExecuteSerializer(body).data)


@extend_schema(
    tags=["tasks"],
    summary="Read one task",
    description="Every TaskResult field, plus the task path, queue, priority and run_after.",
    parameters=[
        OpenApiParameter("backend", str, description='The task backend, default "default".')
    ],
    responses={200: TaskSerializer, **TASK_ERRORS},
)
class StatusView(TriggerView):
    endpoint = "status"

    def get(self, request: Request, task_id: str) -> Response:
        task_id = self.task_id(task_id)
        backend = self.validated(StatusQuery, request.query_params)["backend"]
        cached = status_cache.get(backend.alias, task_id)
        if cached is not None:
            return Response(cached)
        summary = TaskOperations(backend).get(task_id)
        body = task_data(summary)
        if summary.finished_at is not None:
            status_cache.put(backend.alias, task_id, body, conf.TASKS_API_STATUS_CACHE_SECONDS)
        return Response(body)


@extend_schema(
    tags=["tasks"],
    summary="Delete finished tasks older than `days`",
    description="Starts a Temporal batch deletion; deletion completes in the background.",
    request=PurgeRequest,
    responses={200: PurgedSerializer, **COMMON_ERRORS},
)
class PurgeView(TriggerView):
    endpoint = "purge"

    def post(self, request: Request) -> Response:
        data = self.validated(PurgeRequest, request.data)
        status = data.get("status")
        status_cache.forget(data["backend"].alias)
        purged = TaskOperations(data["backend"]).purge(
            days=data["days"],
            statuses=[TaskResultStatus(status)] if status else (),
            queue_name=data.get("queue_name"),
        )
        return Response(PurgedSerializer(purged).data)
