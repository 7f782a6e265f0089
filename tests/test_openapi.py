"""The committed OpenAPI schema: current, usable by a generated client, and kept by the server.

The generated client and schemathesis talk HTTP to a live server (pytest-django's
`live_server`, in this process) with a real Temporal behind it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.tasks import TaskResultStatus

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.schedules import ScheduleOperations
from tests import tasks
from tests.conftest import ROOT, SUMMARY, wait_finished, wait_for, wait_visible
from tests.oidc import CertsServer, claims, serving_certs, signing_key
from tests.schedules_support import remove_schedules

SCHEMA = ROOT / "openapi" / "schema.yaml"
KEY = signing_key("openapi-key")
GATED = "nightly"
# The bar: at least this many generated requests, with no 5xx and no schema violation.
MIN_SCHEMATHESIS_REQUESTS = 1000


@pytest.fixture(scope="module")
def certs() -> Iterator[CertsServer]:
    with serving_certs(KEY) as server:
        yield server


@pytest.fixture
def backend_options() -> dict[str, Any]:
    hourly = {"task": "tests.tasks.add", "cron": "0 * * * *", "args": [1, 2]}
    return {"trigger_queues": [GATED], "schedules": {"hourly": hourly}}


@pytest.fixture
def schedules(backend: TemporalTaskBackend) -> Iterator[None]:
    """The declared schedule on Temporal, for the schedule endpoints to find."""
    ScheduleOperations(backend).sync()
    yield
    remove_schedules(backend, ["hourly"])


def test_committed_schema_is_what_the_code_generates() -> None:
    generated = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        cwd=ROOT / "example",
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout == SCHEMA.read_text(), (
        "openapi/schema.yaml is stale: run `just schema` and commit it."
    )


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("client")
    subprocess.run(
        [
            Path(sys.executable).with_name("openapi-python-client"),
            "generate",
            "--path",
            str(SCHEMA),
            "--output-path",
            str(out / "tasks_client"),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("tasks_client")
    finally:
        sys.path.remove(str(out))


def test_generated_client_against_a_live_server(
    generated_client: Any, live_server: Any, certs: CertsServer,
    backend: TemporalTaskBackend, worker: Any, schedules: None,
) -> None:
    api = SimpleNamespace(**{
        name: importlib.import_module(f"tasks_client.api.tasks.{name}")
        for name in ["tasks_run", "tasks_run_one", "tasks_execute", "tasks_status", "tasks_purge"]
    }, **{
        name: importlib.import_module(f"tasks_client.api.schedules.{name}")
        for name in ["tasks_schedules", "tasks_schedule_trigger", "tasks_schedule_pause"]
    })
    models = importlib.import_module("tasks_client.models")
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=KEY.sign(claims()), raise_on_unexpected_status=True
    )
    waiting = tasks.add.using(queue_name=GATED).enqueue(20, 22)
    wait_visible(backend, 1, queue_name=GATED, waiting=True)
    released = api.tasks_run.sync(client=client, body=models.RunRequest(
        queue_name=GATED, wait=30
    ))
    assert released.released == [waiting.id] and released.count == 1
    assert released.tasks[0].status == models.TaskStatusEnum.SUCCESSFUL

    status = api.tasks_status.sync(waiting.id, client=client)
    assert status.return_value == 42 and status.queue_name == GATED and status.attempts == 1

    missing = api.tasks_status.sync_detailed("no-such-task", client=client)
    assert missing.status_code == 404 and missing.parsed.code == "not_found"

    other = tasks.add.using(queue_name=GATED).enqueue(1, 2)
    executed = api.tasks_execute.sync(other.id, client=client, body=models.ExecuteRequest(
        wait=30
    ))
    assert executed.task.status == models.TaskStatusEnum.SUCCESSFUL
    assert api.tasks_run_one.sync(client=client, body=models.RunOneRequest(
        queue_name=GATED
    )).processed is False

    wait_finished(backend, other.id)
    purged = api.tasks_purge.sync(client=client, body=models.PurgeRequest(
        days=0, queue_name=GATED
    ))
    assert purged.matched == 2 and purged.batch_job_id
    wait_for(
        lambda: api.tasks_status.sync_detailed(waiting.id, client=client).status_code == 404,
        timeout=60,
    )

    [hourly] = api.tasks_schedules.sync(client=client).schedules
    assert hourly.sync_state == models.SyncStateEnum.SYNCED and len(hourly.next_run_times) == 5
    triggered = api.tasks_schedule_trigger.sync("hourly", client=client,
                                                body=models.TriggerScheduleRequest())
    assert wait_finished(backend, triggered.task_id).return_value == 3
    paused = api.tasks_schedule_pause.sync("hourly", client=client,
                                           body=models.PauseScheduleRequest(note="Quiet."))
    assert paused.paused and paused.note == "Quiet."


@pytest.mark.timeout(900)  # thousands of requests: minutes on a busy 2-core machine
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_server: Any, certs: CertsServer, backend: TemporalTaskBackend,
    tmp_path: Path, schedules: None, worker: Any,
) -> None:
    # The worker: a schedule's trigger answers a task id, which schemathesis follows into
    # execute/<id>/ with `wait`; without a worker that answer takes `wait` seconds, past
    # schemathesis' 10 s request timeout.
    # Something to find: a finished task and one waiting for a trigger.
    done = tasks.add.enqueue(1, 1)
    tasks.add.using(queue_name=GATED).enqueue(1, 1)
    events = tmp_path / "events.ndjson"
    run = subprocess.run(
        [
            Path(sys.executable).with_name("st"),
            "run",
            str(SCHEMA),
            "--url",
            live_server.url,
            "--header",
            f"Authorization: Bearer {KEY.sign(claims())}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,response_headers_conformance",
            "--max-examples",
            "100",
            "--seed",
            "1",
            "--workers",
            "2",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(events),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    requests = _count_requests(events)
    SUMMARY.append(
        f"schemathesis: {requests} generated requests against the live server, "
        f"exit {run.returncode} (0 = no server error, no schema violation)"
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert requests >= MIN_SCHEMATHESIS_REQUESTS, run.stdout[-3000:]
    assert done.id  # keep the task alive for the run


def _count_requests(events: Path) -> int:
    """Interactions recorded in schemathesis' NDJSON event stream."""
    count = 0
    for line in events.read_text().splitlines():
        event = json.loads(line)
        for value in event.values():
            if isinstance(value, dict) and "recorder" in value:
                count += len(value["recorder"].get("interactions", {}))
    return count


def test_terminal_states_in_the_schema_match_django() -> None:
    text = SCHEMA.read_text()
    for status in TaskResultStatus:
        assert f"- {status.value}" in text
