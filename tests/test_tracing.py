"""OPTIONS["tracing"]: a request that enqueues and the task body it causes share one
trace, the request span an ancestor of the body's span (in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import wait_finished, wait_for

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)  # once per process: OpenTelemetry's rule
    yield _EXPORTER


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"tracing": True}


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


@override_settings(
    ROOT_URLCONF="tests.urls_tracing", MIDDLEWARE=["tests.urls_tracing.request_span"]
)
def test_the_request_span_is_an_ancestor_of_the_task_body(spans, backend, worker):
    spans.clear()
    task_id = Client().get("/enqueue/").json()["id"]
    result = wait_finished(backend, task_id)
    body_name = "RunTask:tests.tasks.current_span"
    wait_for(lambda: any(s.name == body_name for s in spans.get_finished_spans()))
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    [body] = [s for s in finished if s.name == body_name]
    [request] = [s for s in finished if s.name == "GET /enqueue/"]
    chain = ancestors(body, by_id)
    print(" <- ".join([body.name, *chain]))
    assert chain[-1] == "GET /enqueue/", chain
    assert "EnqueueTask:tests.tasks.current_span" in chain
    assert body.context.trace_id == request.context.trace_id
    # The body ran inside its span (a sync function, on a worker thread).
    assert result.return_value == format(body.context.span_id, "016x")
    expected = {
        "django.task.path": "tests.tasks.current_span",
        "django.task.queue_name": "default",
        "django.task.backend": "default",
        "django.task.id": task_id,
    }
    assert expected.items() <= dict(body.attributes or {}).items()
    [enqueue] = [s for s in finished if s.name == "EnqueueTask:tests.tasks.current_span"]
    assert expected.items() <= dict(enqueue.attributes or {}).items()


def test_no_spans_without_the_option(spans, temporal_server):
    from django.tasks import task_backends

    from tests import tasks
    from tests.conftest import ThreadWorker, tasks_setting

    spans.clear()
    with override_settings(TASKS=tasks_setting(temporal_server.target_host)):
        backend = task_backends["default"]
        worker = ThreadWorker(backend).start()
        try:
            wait_finished(backend, tasks.current_span.enqueue().id)
        finally:
            worker.stop()
    assert spans.get_finished_spans() == ()
