"""The only place that connects to Temporal: one client per process and connection settings.

Django code is mostly synchronous, while the temporalio client is asyncio-only. Sync
callers hand their coroutine to one background event-loop thread (`call`); async callers
await the same loop (`acall`). Clients are cached by what identifies a connection
(target, namespace, credentials), never by backend alias, so `override_settings(TASKS=...)`
picks up new OPTIONS at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from django_tasks_temporal.exceptions import TemporalUnavailable
from django_tasks_temporal.options import BackendOptions, TLSOptions

T = TypeVar("T")

# RPC failures that mean "the server is not there", as opposed to "the request is wrong".
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Client] = {}
_connecting: dict[tuple[Any, ...], asyncio.Future[Client]] = {}


def _connection_key(options: BackendOptions) -> tuple[Any, ...]:
    return (
        options.target_host,
        options.namespace,
        options.api_key,
        options.tls,
        options.connect_timeout,
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


def unavailable(options: BackendOptions, error: BaseException) -> TemporalUnavailable:
    return TemporalUnavailable(
        f"The Temporal server at {options.target_host!r} (namespace {options.namespace!r}) "
        f"could not be reached within {options.connect_timeout:g}s."
    )


async def connect(options: BackendOptions) -> Client:
    """Open a new client (the worker owns one; everything else uses `get_client`)."""
    try:
        return await Client.connect(
            options.target_host,
            namespace=options.namespace,
            api_key=options.api_key,
            tls=_tls_config(options.tls),
            retry_config=RetryConfig(
                max_elapsed_time_millis=int(options.connect_timeout * 1000)
            ),
        )
    except (RuntimeError, RPCError) as e:
        raise unavailable(options, e) from e


async def get_client(options: BackendOptions) -> Client:
    """The process-wide client for these connection settings, connecting on first use."""
    key = _connection_key(options)
    client = _clients.get(key)
    if client is not None:
        return client
    pending = _connecting.get(key)
    if pending is None:
        pending = asyncio.get_running_loop().create_future()
        _connecting[key] = pending
        try:
            client = await connect(options)
        except BaseException as e:
            pending.set_exception(e)
            pending.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del _connecting[key]
        _clients[key] = client
        pending.set_result(client)
        return client
    return await asyncio.shield(pending)


async def _with_client[T](
    options: BackendOptions, fn: Callable[[Client], Awaitable[T]]
) -> T:
    client = await get_client(options)
    try:
        return await fn(client)
    except RPCError as e:
        if e.status in _UNAVAILABLE:
            raise unavailable(options, e) from e
        raise


def _forget_after_fork() -> None:
    """A forked child (gunicorn --preload, multiprocessing) has no loop thread: start over."""
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
    return asyncio.run_coroutine_threadsafe(coro, _background_loop())


def call[T](options: BackendOptions, fn: Callable[[Client], Awaitable[T]]) -> T:
    """Run `fn(client)` on the client's loop and wait for it (for sync code)."""
    return _submit(_with_client(options, fn)).result()


async def acall[T](options: BackendOptions, fn: Callable[[Client], Awaitable[T]]) -> T:
    """Run `fn(client)` on the client's loop from any other event loop."""
    return await asyncio.wrap_future(_submit(_with_client(options, fn)))
