"""One JSON error shape for every error status: `{"detail", "code"}` plus field `errors`.

Clients get a fixed message and a machine code, never exception text: anything this
handler does not know becomes a logged 503 ("temporal_error") or 500-free refusal.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.tasks.exceptions import TaskResultDoesNotExist
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from temporalio.service import RPCError

from django_tasks_temporal.api.declarations import TaskNotUsable
from django_tasks_temporal.exceptions import (
    ArgumentsTooLarge,
    InvalidBackendOptions,
    TemporalUnavailable,
)
from django_tasks_temporal.operations import TaskConflict

logger = logging.getLogger("django_tasks_temporal.api")


class TaskNotFound(exceptions.NotFound):
    default_detail = "No such task."
    default_code = "not_found"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The task cannot do that in its current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The Temporal server is unavailable; try again later."
    default_code = "temporal_unavailable"


def _translate(exc: Exception) -> Exception:
    """Our domain's exceptions -> DRF's, each with a fixed message and a code."""
    if isinstance(exc, TaskResultDoesNotExist | Http404):
        return TaskNotFound()
    if isinstance(exc, TaskConflict):
        return Conflict(detail=str(exc), code=exc.code)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, ArgumentsTooLarge):
        return PayloadTooLarge(
            "The task's arguments are larger than the backend accepts.", "arguments_too_large"
        )
    if isinstance(exc, SuspiciousOperation):  # e.g. TooManyFieldsSent in a form body
        return exceptions.ParseError("The body could not be read.", "parse_error")
    if isinstance(exc, TemporalUnavailable):
        logger.warning("The trigger service could not reach Temporal: %s", exc)
        return ServiceUnavailable()
    if isinstance(exc, InvalidBackendOptions):
        logger.error("The trigger service cannot use its backend: %s", exc)
        return ServiceUnavailable(
            "The task backend is misconfigured; see the server logs.", "backend_misconfigured"
        )
    if isinstance(exc, TaskNotUsable):
        logger.error("The trigger service cannot use a declared task: %s", exc)
        return ServiceUnavailable(
            "The declared task is misconfigured; see the server logs.", "task_misconfigured"
        )
    if isinstance(exc, RPCError):
        logger.error("Temporal refused a trigger request: %s (%s)", exc.message, exc.status)
        return ServiceUnavailable("Temporal could not complete the request.", "temporal_error")
    return exc


def _code(detail: Any) -> str:
    """The first error code in a DRF detail structure."""
    if isinstance(detail, dict):
        return _code(next(iter(detail.values()), "invalid"))
    if isinstance(detail, list):
        return _code(detail[0]) if detail else "invalid"
    return str(getattr(detail, "code", None) or "error")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:  # not an API error: a bug, which Django reports as a 500
        return None
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"detail": "The request is not valid.", "code": "invalid", "errors": fields}
    else:
        detail = exc.detail
        response.data = {"detail": str(detail), "code": _code(detail)}
    return response
