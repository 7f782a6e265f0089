"""`POST enqueue/<name>/`: start a declared task once per delivery of an event.

Authentication and the endpoint's allow-list run first, as everywhere. Then a name that
is not declared, or whose `allowed_emails` leave this caller out, answers the same 404:
a caller learns of no name it may not use. The body is read as the declaration says
(`events`), the arguments are checked against the task's parameters, and the task is
started under an id derived from the delivery (`deliveries`): 202 when this delivery
started it, 200 with `"duplicate": true` when an earlier one had.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any
from urllib.parse import urlencode

from django.tasks import Task
from django.urls import URLPattern, path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from django_tasks_temporal.api.authentication import OIDCIdentity
from django_tasks_temporal.api.declarations import Declaration, declared, parse
from django_tasks_temporal.api.enqueue_schema import (
    PARAMETERS,
    RESPONSES,
    EnqueueQuery,
    EnqueueSchema,
)
from django_tasks_temporal.api.events import read_call
from django_tasks_temporal.api.parsers import EVENT_PARSERS
from django_tasks_temporal.api.serializers import task_data
from django_tasks_temporal.api.views import TriggerView
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.deliveries import Delivered, delivery_task_id, start_once

logger = logging.getLogger("django_tasks_temporal.api")


class UnknownName(exceptions.NotFound):
    default_detail = "No task is declared under this name."
    default_code = "not_found"


@extend_schema(tags=["tasks"], parameters=PARAMETERS, responses=RESPONSES)
class EnqueueView(TriggerView):
    endpoint = "enqueue"
    parser_classes = EVENT_PARSERS
    schema = EnqueueSchema()
    declared_name: str | None = None  # set per documented name (declared_patterns)

    def post(self, request: Request, name: str) -> Response:
        declaration = self.declaration(request, name)
        task, backend = declaration.resolve()
        call = read_call(request, declaration, self.delivery(request))
        wait = self.validated(EnqueueQuery, request.query_params)["wait"]
        if call.run_after is not None:
            task = task.using(run_after=call.run_after)
        check_arguments(task, call.args, call.kwargs)
        delivered = start_once(
            backend,
            task,
            call.args,
            call.kwargs,
            task_id=delivery_task_id(backend, name, call.delivery),
            timeout=declaration.start_timeout,
            wait=wait,
        )
        return self.answer(request, backend, delivered)

    @staticmethod
    def answer(request: Request, backend: TemporalTaskBackend, delivered: Delivered) -> Response:
        """202 for the delivery that started the task, 200 for a later one; `Location`
        is the task's status/ URL."""
        body = {
            "id": delivered.id,
            "duplicate": delivered.duplicate,
            "task": task_data(delivered.task) if delivered.task else None,
        }
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        status = reverse(f"{namespace}:status" if namespace else "status", args=[delivered.id])
        if backend.alias != "default":
            status += "?" + urlencode({"backend": backend.alias})
        return Response(
            body, status=200 if delivered.duplicate else 202, headers={"Location": status}
        )

    @staticmethod
    def declaration(request: Request, name: str) -> Declaration:
        """The declaration of `name`, if this caller may use it; else 404, either way."""
        found = declared(name)
        caller: object = request.user
        assert isinstance(caller, OIDCIdentity)  # EndpointAllowList let it through
        if found is None or not found.allows(caller.email):
            if found is not None:
                logger.info("%s is not allowed to enqueue %r.", caller.email, name)
            raise UnknownName()
        return found


def check_arguments(task: Task[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse arguments the task could not be called with (a 400, not a FAILED task)."""
    signature = inspect.signature(task.func)
    context = [None] if task.takes_context else []
    try:
        signature.bind(*context, *args, **kwargs)
    except TypeError:
        parameters = list(signature.parameters)[len(context) :]
        raise serializers.ValidationError(
            {"arguments": [f"The task takes ({', '.join(parameters)}); these do not fit."]}
        ) from None


def declared_patterns() -> list[URLPattern]:
    """One `enqueue/<name>/` path per declared name, so that the OpenAPI schema has an
    operation (and a typed body) for each; requests to any name reach the same view."""
    try:
        names = list(parse())
    except Exception:  # a bad setting is the system checks' to report, not the URLconf's
        return []
    return [
        path(f"enqueue/{name}/", EnqueueView.as_view(declared_name=name), {"name": name})
        for name in names
    ]
