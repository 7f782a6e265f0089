"""The schedule endpoints: list the declared schedules, trigger, pause and unpause one.

Same OIDC rules as the other endpoints (each has its own allow-list name); every change
goes through `schedules.ScheduleOperations`. A name that is neither declared nor owned by
the backend is 404, so a caller learns nothing about schedules this project does not own.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from django_tasks_temporal.api import errors
from django_tasks_temporal.api.schedule_serializers import (
    PauseScheduleRequest,
    ScheduleSerializer,
    SchedulesQuery,
    SchedulesSerializer,
    TriggeredSerializer,
    TriggerScheduleRequest,
)
from django_tasks_temporal.api.serializers import ErrorSerializer
from django_tasks_temporal.api.views import COMMON_ERRORS, TriggerView
from django_tasks_temporal.schedule_declarations import NAME
from django_tasks_temporal.schedules import ScheduleConflict, ScheduleNotFound, ScheduleOperations


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


SCHEDULE_ERRORS = {
    **COMMON_ERRORS,
    404: _error("Neither declared in OPTIONS['schedules'] nor owned by the backend."),
    409: _error("The schedule is declared but not synced yet (`schedule_not_synced`), or its "
                "id belongs to a schedule the backend does not own (`schedule_blocked`)."),
}


NAME_PARAMETER = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="The schedule's name in OPTIONS['schedules']."
)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Names one delivery: a repeated delivery starts no second run (and answers "
    "`task_id` null). Cloud Scheduler's X-CloudScheduler-JobName and "
    "X-CloudScheduler-ScheduleTime headers serve the same purpose when this is absent.",
)


class ScheduleNotFoundError(exceptions.NotFound):
    default_detail = "No such schedule."
    default_code = "not_found"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ScheduleNotFound):
        exc = ScheduleNotFoundError()
    elif isinstance(exc, ScheduleConflict):
        exc = errors.Conflict(detail=str(exc), code=exc.code)
    return errors.exception_handler(exc, context)


class ScheduleView(TriggerView):
    def get_exception_handler(self) -> Any:
        return exception_handler

    @staticmethod
    def schedule_name(value: str) -> str:
        if not NAME.match(value):
            raise ScheduleNotFound(value)
        return value

    @staticmethod
    def who(request: Request) -> str:
        return f"through the trigger service by {request.user}"


@extend_schema(
    tags=["schedules"],
    summary="List the backend's schedules",
    description="The schedules declared in OPTIONS['schedules'] (in declaration order), then "
    "those the backend owns that are no longer declared; each with its state on Temporal: "
    "paused and note, next run times, recent runs (task ids), and counts.",
    parameters=[
        OpenApiParameter("backend", str, description='The task backend, default "default".')
    ],
    responses={200: SchedulesSerializer, **COMMON_ERRORS},
)
class SchedulesView(ScheduleView):
    endpoint = "schedules"

    def get(self, request: Request) -> Response:
        backend = self.validated(SchedulesQuery, request.query_params)["backend"]
        schedules = ScheduleOperations(backend).list()
        body = {"backend": backend.alias, "schedules": schedules}
        return Response(SchedulesSerializer(body).data)


@extend_schema(
    tags=["schedules"],
    summary="Run a schedule's task now",
    description="One run now, as Temporal's trigger (the schedule's overlap policy applies; a "
    "paused schedule runs too). Answers with the run's task id once it started.",
    request=TriggerScheduleRequest,
    parameters=[NAME_PARAMETER, IDEMPOTENCY_KEY],
    responses={200: TriggeredSerializer, **SCHEDULE_ERRORS},
)
class TriggerScheduleView(ScheduleView):
    endpoint = "schedule-trigger"

    def post(self, request: Request, name: str) -> Response:
        name = self.schedule_name(name)
        backend = self.validated(TriggerScheduleRequest, request.data)["backend"]
        triggered = ScheduleOperations(backend).trigger(name, delivery=self.delivery(request))
        return Response(TriggeredSerializer(triggered).data)


@extend_schema(
    tags=["schedules"],
    summary="Pause a schedule",
    description="No run starts until it is unpaused; a sync keeps the pause and the note.",
    request=PauseScheduleRequest,
    parameters=[NAME_PARAMETER],
    responses={200: ScheduleSerializer, **SCHEDULE_ERRORS},
)
class PauseScheduleView(ScheduleView):
    endpoint = "schedule-pause"

    def post(self, request: Request, name: str) -> Response:
        name = self.schedule_name(name)
        data = self.validated(PauseScheduleRequest, request.data)
        note = data["note"] or f"Paused {self.who(request)}."
        summary = ScheduleOperations(data["backend"]).pause(name, note)
        return Response(ScheduleSerializer(summary).data)


@extend_schema(
    tags=["schedules"],
    summary="Unpause a schedule",
    description="Runs start again at the schedule's next time (missed ones are not run).",
    request=PauseScheduleRequest,
    parameters=[NAME_PARAMETER],
    responses={200: ScheduleSerializer, **SCHEDULE_ERRORS},
)
class UnpauseScheduleView(ScheduleView):
    endpoint = "schedule-unpause"

    def post(self, request: Request, name: str) -> Response:
        name = self.schedule_name(name)
        data = self.validated(PauseScheduleRequest, request.data)
        note = data["note"] or f"Unpaused {self.who(request)}."
        summary = ScheduleOperations(data["backend"]).unpause(name, note)
        return Response(ScheduleSerializer(summary).data)
