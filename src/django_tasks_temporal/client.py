"""The only place that connects to Temporal: one client per process and connection settings.

Django code is mostly synchronous, while the temporalio client is asyncio-only. Sync
callers hand their coroutine to one background event-loop thread (`call`); async callers
await the same loop (`acall`). Clients are cached by what identifies a connection
(target, namespace, credentials), never by backend alias, so `override_settings(TASKS=...)`
picks up new OPTIONS at once.

temporalio's Runtime (its Rust core: threads, connections) belongs to the process that
made it. Each process gets its own here, so a child forked after the parent used the
backend (gunicorn --preload, multiprocessing) connects afresh instead of failing with
"Cannot create client across forks". The Runtime also sends Temporal core's own log
lines to the Python logger `temporalio`, instead of coloured text on stderr. A worker
that serves metrics makes its own Runtime with a Prometheus endpoint (`worker_runtime`);
nothing else in a process (a web server above all) exposes anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from django_tasks_temporal import tracing
from django_tasks_temporal.exceptions import TemporalUnavailable, WorkerConfigurationError
from django_tasks_temporal.options import BackendOptions, TLSOptions

T = TypeVar("T")

# RPC failures that mean "the server is not there", as opposed to "the request is wrong".
UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})
# A worker keeps retrying a call (an attempt's completion above all) through an outage
# this long, instead of giving up after the connect timeout.
WORKER_RETRY_SECONDS = 120.0

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Client] = {}
_connecting: dict[tuple[Any, ...], asyncio.Future[Client]] = {}
_runtime: tuple[int, Runtime] | None = None  # (pid, runtime)


def _telemetry(metrics: PrometheusConfig | None = None) -> TelemetryConfig:
    return TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio")),
        ),
        metrics=metrics,
    )


def runtime() -> Runtime:
    """This process's temporalio Runtime, made on first use (again after a fork)."""
    global _runtime
    if _runtime is None or _runtime[0] != os.getpid():
        _runtime = (os.getpid(), Runtime(telemetry=_telemetry()))
    return _runtime[1]


def worker_runtime(metrics_bind: str) -> Runtime:
    """A Runtime for one worker's client that serves Prometheus `/metrics` on
    `metrics_bind` ("host:port") for as long as it lives."""
    from django_tasks_temporal.metrics import prometheus_config

    try:
        return Runtime(telemetry=_telemetry(prometheus_config(metrics_bind)))
    except (ValueError, OSError) as e:
        reason = "the address is in use" if "in use" in str(e) else str(e)
        raise WorkerConfigurationError(
            f"Cannot serve metrics on {metrics_bind!r}: {reason}."
        ) from e


def _connection_key(options: BackendOptions) -> tuple[Any, ...]:
    return (
        options.target_host,
        options.namespace,
        options.api_key,
        options.tls,
        options.connect_timeout,
        options.tracing,
    )


def _tls_config(tls: TLSOptions | bool | None) -> TLSConfig | bool | None:
    if tls is None or isinstance(tls, bool):
        return tls

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    return TLSConfig(
        server_root_ca_cert=read(tls.server_root_ca_cert),
        client_cert=read(tls.client_cert),
        client_private_key=read(tls.client_private_key),
        domain=tls.domain,
    )


def unavailable(
    options: BackendOptions,
    error: BaseException,
    *,
    waited: float,
    task_id: str | None = None,
    limit: float | None = None,
) -> TemporalUnavailable:
    """The one error for "the server is not there", saying what actually happened."""
    where = f"The Temporal server at {options.target_host!r} (namespace {options.namespace!r})"
    text = str(error).lower()
    if limit is not None:
        what = f"did not answer within {limit:g}s"
    elif "refused" in text:
        what = "refused the connection"
    elif waited >= options.connect_timeout * 0.9:
        what = f"did not answer within {options.connect_timeout:g}s"
    else:
        what = f"could not be reached ({type(error).__name__}: {str(error)[:200]})"
    suffix = f"; the task may exist under id {task_id!r}" if task_id else ""
    return TemporalUnavailable(f"{where} {what}{suffix}.", task_id=task_id)


async def connect(
    options: BackendOptions,
    *,
    retry_seconds: float | None = None,
    own_runtime: Runtime | None = None,
) -> Client:
    """Open a new client (a worker owns one; everything else uses `get_client`).

    Calls are retried through an outage for `retry_seconds` (default: the connect timeout).
    The client uses the process's Runtime, or `own_runtime` (a worker's, with metrics).
    """
    window = retry_seconds if retry_seconds is not None else options.connect_timeout
    started = time.monotonic()
    try:
        return await Client.connect(
            options.target_host,
            namespace=options.namespace,
            api_key=options.api_key,
            tls=_tls_config(options.tls),
            runtime=own_runtime or runtime(),
            interceptors=tracing.client_interceptors(options),
            retry_config=RetryConfig(
                max_elapsed_time_millis=int(window * 1000),
                max_retries=max(10, int(window)),
            ),
        )
    except (RuntimeError, RPCError) as e:
        raise unavailable(options, e, waited=time.monotonic() - started) from e


async def get_client(options: BackendOptions) -> Client:
    """The process-wide client for these connection settings, connecting on first use."""
    key = _connection_key(options)
    client = _clients.get(key)
    if client is not None:
        return client
    pending = _connecting.get(key)
    if pending is None:
        # A task of its own, which every caller awaits shielded: a caller that gives up
        # (`call(timeout=...)`) cancels only its own wait, never the others' connect.
        pending = asyncio.ensure_future(_connect_once(options, key))
        pending.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        _connecting[key] = pending
    return await asyncio.shield(pending)


async def _connect_once(options: BackendOptions, key: tuple[Any, ...]) -> Client:
    try:
        client = await connect(options)
    finally:
        del _connecting[key]
    _clients[key] = client
    return client


async def _with_client[T](
    options: BackendOptions, fn: Callable[[Client], Awaitable[T]]
) -> T:
    client = await get_client(options)
    started = time.monotonic()
    try:
        return await fn(client)
    except RPCError as e:
        if e.status in UNAVAILABLE:
            raise unavailable(options, e, waited=time.monotonic() - started) from e
        raise


def _forget_after_fork() -> None:
    """A forked child (gunicorn --preload, multiprocessing) has no loop thread, and may
    not use the parent's Runtime or clients: start over (`runtime()` makes a new one)."""
    global _loop
    _loop = None
    _clients.clear()
    _connecting.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="django-tasks-temporal-client", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


def _submit[T](coro: Coroutine[Any, Any, T]) -> Future[T]:
    # The task runs in a copy of the caller's context (the handle that schedules it copies
    # it in this thread): a request's OpenTelemetry span is the parent of the calls.
    return asyncio.run_coroutine_threadsafe(coro, _background_loop())


def call[T](
    options: BackendOptions,
    fn: Callable[[Client], Awaitable[T]],
    *,
    timeout: float | None = None,
) -> T:
    """Run `fn(client)` on the client's loop and wait for it (for sync code).

    With `timeout`, the call (connecting included) is cancelled after that many seconds
    and raises `TemporalUnavailable`.
    """
    future = _submit(_with_client(options, fn))
    started = time.monotonic()
    try:
        return future.result(timeout)
    except TimeoutError as e:
        if future.done():  # fn's own TimeoutError
            raise
        future.cancel()  # cancels the call on the loop, connecting included
        raise unavailable(options, e, waited=time.monotonic() - started, limit=timeout) from e


async def acall[T](options: BackendOptions, fn: Callable[[Client], Awaitable[T]]) -> T:
    """Run `fn(client)` on the client's loop from any other event loop."""
    return await asyncio.wrap_future(_submit(_with_client(options, fn)))
