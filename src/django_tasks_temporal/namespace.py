"""What this backend needs from a Temporal namespace: its custom search attributes.

They are registered on first need (a worker's start, or an enqueue the namespace refused
for lack of them), so any server works with no set-up where the operator API allows it
(the dev server, a self-hosted server). Where it does not (Temporal Cloud), the error
names the exact command to run once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from django_tasks_temporal.exceptions import InvalidBackendOptions
from django_tasks_temporal.search_attributes import SEARCH_ATTRIBUTES, create_command

logger = logging.getLogger("django_tasks_temporal.namespace")

_INDEXED_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}
# How long a freshly registered attribute may take to be accepted by every frontend.
SETTLE_SECONDS = 15.0


def missing_search_attributes(error: RPCError) -> bool:
    """Whether a start or query was refused because the namespace lacks our attributes."""
    return "search attribute" in error.message.lower()


async def missing(client: Client, namespace: str) -> list[str]:
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return [name for name in SEARCH_ATTRIBUTES if name not in existing.custom_attributes]


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register whichever of this backend's search attributes the namespace lacks.

    Returns the names registered. Raises `InvalidBackendOptions` naming the command to
    run when the server does not let this client register them.
    """
    try:
        names = await missing(client, namespace)
        if names:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={n: _INDEXED_TYPES[SEARCH_ATTRIBUTES[n]] for n in names},
                )
            )
            logger.info(
                "Registered search attributes %s in namespace %r", ", ".join(names), namespace
            )
    except RPCError as e:
        raise InvalidBackendOptions(
            f"The Temporal namespace {namespace!r} lacks this backend's search attributes "
            f"and they could not be registered ({e.status.name}: {e.message}); run once: "
            f"{create_command(namespace)}"
        ) from e
    return names


async def settle(client: Client, namespace: str) -> None:
    """Wait until registered attributes are listed (the server caches the list briefly)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while await missing(client, namespace) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
