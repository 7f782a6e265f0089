"""OpenTelemetry for this backend (OPTIONS["tracing"], the `otel` extra).

With tracing on, every client the backend makes carries temporalio's `TracingInterceptor`,
which passes the current span through Temporal's headers: a request that enqueues, the
workflow, and the attempt's activity share one trace. This module adds this backend's
own spans on both ends, `EnqueueTask:<path>` around the start of a task's workflow and
`RunTask:<path>` around an attempt's function, with the task's path, queue, backend and
id as attributes. The application sets up its TracerProvider and exporter; without one,
OpenTelemetry's API records nothing. Runs that a Temporal Schedule starts have no parent.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate

from django_tasks_temporal.payloads import AttemptResult, RunTaskInput

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from temporalio.client import Client, Interceptor

    from django_tasks_temporal.attempts import Attempt
    from django_tasks_temporal.options import BackendOptions

TRACER_NAME = "django_tasks_temporal"


def client_interceptors(options: BackendOptions) -> list[Interceptor]:
    if not options.tracing:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def task_attributes(task: RunTaskInput, task_id: str) -> dict[str, str]:
    return {
        "django.task.path": task.task_path,
        "django.task.queue_name": task.queue_name,
        "django.task.backend": task.backend,
        "django.task.id": task_id,
    }


def traced_start[**P](
    start: Callable[Concatenate[Client, BackendOptions, RunTaskInput, str, P], Awaitable[None]],
) -> Callable[Concatenate[Client, BackendOptions, RunTaskInput, str, P], Awaitable[None]]:
    """Wrap a task's start in an `EnqueueTask:<path>` span when its backend traces."""

    @functools.wraps(start)
    async def traced(
        client: Client,
        config: BackendOptions,
        run_input: RunTaskInput,
        workflow_id: str,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        if not config.tracing:
            return await start(client, config, run_input, workflow_id, *args, **kwargs)
        from opentelemetry import trace

        with trace.get_tracer(TRACER_NAME).start_as_current_span(
            f"EnqueueTask:{run_input.task_path}",
            kind=trace.SpanKind.PRODUCER,
            attributes=task_attributes(run_input, workflow_id),
        ):
            await start(client, config, run_input, workflow_id, *args, **kwargs)

    return traced


def start_attempt(
    attempt: Attempt, run: Coroutine[Any, Any, AttemptResult], enabled: bool
) -> asyncio.Task[AttemptResult]:
    """Run an attempt as a task, inside a `RunTask:<path>` span when `enabled`: its
    function (async, or sync in a thread) runs in that span's context."""
    if not enabled:
        return asyncio.ensure_future(run)
    from opentelemetry import context, trace

    request = attempt.request
    span = trace.get_tracer(TRACER_NAME).start_span(
        f"RunTask:{request.task.task_path}",
        kind=trace.SpanKind.CONSUMER,
        attributes={
            **task_attributes(request.task, request.workflow_id),
            "django.task.attempt": request.attempt,
        },
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        task = asyncio.ensure_future(run)  # the task copies the context: the span's
    finally:
        context.detach(token)
    task.add_done_callback(functools.partial(_end_span, span))
    return task


def _end_span(span: Span, task: asyncio.Task[AttemptResult]) -> None:
    from opentelemetry.trace import Status, StatusCode

    if task.cancelled():
        span.set_status(Status(StatusCode.ERROR, "cut short"))
    elif (error := task.exception()) is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    elif (outcome := task.result()).error is not None:
        span.set_status(Status(StatusCode.ERROR, outcome.error.exception_class_path))
    span.end()
