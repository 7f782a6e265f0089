"""A view that enqueues, under a middleware that opens a server span per request (as
OpenTelemetry's Django instrumentation does): tests/test_tracing.py."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from opentelemetry import trace

from tests import tasks


def request_span(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        tracer = trace.get_tracer("tests.request")
        with tracer.start_as_current_span(
            f"{request.method} {request.path}", kind=trace.SpanKind.SERVER
        ):
            return get_response(request)

    return middleware


def enqueue(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"id": tasks.current_span.enqueue().id})


urlpatterns = [path("enqueue/", enqueue)]
