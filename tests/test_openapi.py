"""The committed OpenAPI schema: current, usable by a generated client, and kept by the server.

The generated client and schemathesis talk HTTP to a live server (pytest-django's
`live_server`, in this process) with a real Temporal behind it.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.tasks import TaskResultStatus
from django.test import override_settings

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


@pytest.fixture
def example_names() -> Iterator[dict[str, Any]]:
    """The names the example project declares (the committed schema's enqueue operations),
    each starting tests.tasks.echo, which takes any arguments and returns them."""
    settings = runpy.run_path(str(ROOT / "example" / "exampleproject" / "settings.py"))
    names = {
        name: {**spec, "task": "tests.tasks.echo"}
        for name, spec in settings["TASKS_API_ENQUEUE"].items()
    }
    with override_settings(TASKS_API_ENQUEUE=names):
        yield names


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
    example_names: dict[str, Any],
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
    _enqueue_with_the_generated_client(client, models)


def _enqueue_with_the_generated_client(client: Any, models: Any) -> None:
    """Each declared name's operation: a JSON body, a Pub/Sub envelope, a CloudEvent."""
    enqueue = SimpleNamespace(**{
        name: importlib.import_module(f"tasks_client.api.tasks.tasks_enqueue_{name}")
        for name in ["order_paid", "stock_check", "report_uploaded"]
    })
    item = models.EnqueueOrderPaidRequestKwargsItemsItem(name="Mug", price_cents=900, quantity=2)
    order = models.EnqueueOrderPaidRequest(kwargs=models.EnqueueOrderPaidRequestKwargs(
        order_id=1042, email="ada@example.com", items=[item]
    ))
    first = enqueue.order_paid.sync_detailed(
        client=client, body=order, idempotency_key="order-1042", wait=30
    )
    assert first.status_code == 202 and first.parsed.duplicate is False
    assert first.parsed.task.status == models.TaskStatusEnum.SUCCESSFUL
    assert first.parsed.task.return_value["kwargs"]["items"] == [
        {"name": "Mug", "price_cents": 900, "quantity": 2}
    ]
    assert first.headers["Location"] == f"/tasks/status/{first.parsed.id}/"
    again = enqueue.order_paid.sync_detailed(client=client, body=order,
                                             idempotency_key="order-1042")
    assert again.status_code == 200 and again.parsed.duplicate is True
    assert again.parsed.id == first.parsed.id

    data = base64.b64encode(json.dumps({"skus": ["MUG-01"]}).encode()).decode()
    push = models.PubSubPush(
        message=models.PubSubPushMessage(message_id="m-1", data=data),
        subscription="projects/shop/subscriptions/stock-check",
    )
    pushed = enqueue.stock_check.sync(client=client, body=push, wait=30)
    assert pushed.task.return_value == {"args": [], "kwargs": {"skus": ["MUG-01"]}}

    event = models.EnqueueReportUploadedCloudEvent(
        specversion=models.SpecversionEnum.VALUE_0, id="e-1", source="//storage/shop",
        type_="google.cloud.storage.object.v1.finalized",
        data=models.EnqueueReportUploadedCloudEventData(bucket="shop", name="daily.csv"),
    )
    uploaded = enqueue.report_uploaded.sync(client=client, body=event, wait=30)
    [argument] = uploaded.task.return_value["args"]
    assert argument["data"] == {"bucket": "shop", "name": "daily.csv"}
    assert argument["id"] == "e-1"



@pytest.mark.timeout(900)  # thousands of requests: minutes on a busy 2-core machine
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_server: Any, certs: CertsServer, backend: TemporalTaskBackend,
    tmp_path: Path, schedules: None, worker: Any, example_names: dict[str, Any],
) -> None:
    # The worker: a schedule's trigger answers a task id, which schemathesis follows into
    # execute/<id>/ with `wait`; without a worker that answer takes `wait` seconds, past
    # schemathesis' 10 s request timeout. It also finishes the tasks enqueue/ starts.
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
    interactions = _interactions(events)
    requests = len(interactions)
    SUMMARY.append(
        f"schemathesis: {requests} generated requests against the live server, "
        f"exit {run.returncode} (0 = no server error, no schema violation)"
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert requests >= MIN_SCHEMATHESIS_REQUESTS, run.stdout[-3000:]
    # Generated bodies reached every declared name's task, first deliveries and repeats.
    for name in example_names:
        statuses = {status for path, status in interactions if f"/enqueue/{name}/" in path}
        assert {200, 202} <= statuses, (name, statuses)
    assert done.id  # keep the task alive for the run


def _interactions(events: Path) -> list[tuple[str, int | None]]:
    """(path, status) of each request recorded in schemathesis' NDJSON event stream."""
    found = []
    for line in events.read_text().splitlines():
        event = json.loads(line)
        for value in event.values():
            if isinstance(value, dict) and "recorder" in value:
                for interaction in value["recorder"].get("interactions", {}).values():
                    path = interaction["request"]["uri"].split("?")[0]
                    status = (interaction.get("response") or {}).get("status_code")
                    found.append((path, status))
    return found


def test_terminal_states_in_the_schema_match_django() -> None:
    text = SCHEMA.read_text()
    for status in TaskResultStatus:
        assert f"- {status.value}" in text
