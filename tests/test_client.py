"""client.call: a bounded call, and a connect that a caller giving up does not break for others."""

from __future__ import annotations

import threading
import time
from typing import Any

from django_tasks_temporal import client as temporal
from django_tasks_temporal.exceptions import TemporalUnavailable
from django_tasks_temporal.options import parse_options
from tests.slow_proxy import SlowProxy


async def namespace_of(client: Any) -> str:
    return str(client.namespace)


def test_a_caller_that_gives_up_leaves_the_shared_connect_to_the_others(
    temporal_server: Any,
) -> None:
    with SlowProxy(temporal_server.target_host) as proxy:
        proxy.delay = 0.5  # every answer, the connect's handshake included, comes late
        options = parse_options({"target_host": proxy.address, "connect_timeout": 30})
        failures: list[BaseException] = []

        def impatient() -> None:
            began = time.monotonic()
            try:
                temporal.call(options, namespace_of, timeout=0.3)
            except TemporalUnavailable as e:
                failures.append(e)
            assert time.monotonic() - began < 1.5

        thread = threading.Thread(target=impatient)
        thread.start()  # it starts the connect, then gives up on it
        time.sleep(0.1)
        assert temporal.call(options, namespace_of) == "default"
        thread.join(30)
        [failure] = failures
        assert "did not answer within 0.3s" in str(failure)
