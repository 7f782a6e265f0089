"""The trigger endpoints against a real Temporal server, called the way real callers do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.tasks import TaskResultStatus
from django.test import Client, override_settings

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.devserver import free_port
from tests import tasks
from tests.conftest import tasks_setting, wait_finished, wait_for, wait_visible
from tests.oidc import READER, CertsServer, claims, serving_certs, signing_key

GATED = "nightly"
KEY = signing_key("api-key")
# What Cloud Scheduler sends with an HTTP target created by the README's gcloud command
# (no --headers): its own headers and the body as application/octet-stream.
SCHEDULER_HEADERS = {
    "HTTP_USER_AGENT": "Google-Cloud-Scheduler",
    "HTTP_X_CLOUDSCHEDULER": "true",
    "HTTP_X_CLOUDSCHEDULER_JOBNAME": "nightly-run",
    "HTTP_X_CLOUDSCHEDULER_SCHEDULETIME": "2026-11-27T03:00:00Z",
}


@pytest.fixture(scope="module")
def certs() -> Iterator[CertsServer]:
    with serving_certs(KEY) as server:
        yield server


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"trigger_queues": [GATED]}


def bearer(**overrides: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {KEY.sign(claims(**overrides))}"}


class Api:
    """A Django test client that sends JSON with a valid OIDC token."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.client = Client()
        self.headers = headers

    def post(self, path: str, body: Any = None, content_type: str = "application/json",
             **headers: Any) -> Any:
        data = "" if body is None else body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            f"/tasks/{path}", data, content_type=content_type, **{**self.headers, **headers}
        )

    def get(self, path: str, **headers: Any) -> Any:
        return self.client.get(f"/tasks/{path}", **{**self.headers, **headers})


@pytest.fixture
def api(certs: CertsServer, backend: TemporalTaskBackend) -> Api:
    return Api(bearer())


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    if code:
        assert body["code"] == code, body
    return body


def test_cloud_scheduler_run_releases_the_waiting_tasks(
    api: Api, backend: TemporalTaskBackend, start_worker: Any
) -> None:
    waiting = [tasks.add.using(queue_name=GATED).enqueue(i, 1) for i in range(3)]
    wait_visible(backend, 3, queue_name=GATED, waiting=True)
    response = api.post(
        "run/", b'{"queue_name": "nightly"}', "application/octet-stream", **SCHEDULER_HEADERS
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3 and body["batch_job_id"] and body["tasks"] is None
    assert sorted(body["released"]) == sorted(r.id for r in waiting)
    start_worker()
    for r in waiting:
        assert wait_finished(backend, r.id).status == TaskResultStatus.SUCCESSFUL
    again = api.post("run/", b'{"queue_name": "nightly"}', "application/octet-stream")
    assert again.json()["count"] == 0


def test_run_with_a_limit_and_wait_answers_final_states(
    api: Api, backend: TemporalTaskBackend, worker: Any
) -> None:
    first = tasks.add.using(queue_name=GATED, priority=10).enqueue(1, 1)
    tasks.add.using(queue_name=GATED).enqueue(2, 2)
    wait_visible(backend, 2, queue_name=GATED, waiting=True)
    body = api.post("run/", {"queue_name": GATED, "max_tasks": 1, "wait": 30}).json()
    assert body["released"] == [first.id] and body["batch_job_id"] is None
    [task] = body["tasks"]
    assert task["status"] == "SUCCESSFUL" and task["return_value"] == 2


def test_form_bodies_work_too(api: Api, backend: TemporalTaskBackend) -> None:
    tasks.add.using(queue_name=GATED).enqueue(1, 1)
    wait_visible(backend, 1, queue_name=GATED, waiting=True)
    response = api.post(
        "run/", "queue_name=nightly&max_tasks=1", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and response.json()["count"] == 1


def test_run_one_releases_the_next_task_then_reports_none(
    api: Api, backend: TemporalTaskBackend
) -> None:
    tasks.add.using(queue_name=GATED, priority=-5).enqueue(1, 1)
    high = tasks.add.using(queue_name=GATED, priority=5).enqueue(1, 1)
    wait_visible(backend, 2, queue_name=GATED, waiting=True)
    body = api.post("run-one/", {"queue_name": GATED}).json()
    assert body == {"processed": True, "duplicate": False, "id": high.id, "task": None}
    assert api.post("run-one/", {"queue_name": GATED}).json()["processed"] is True
    assert api.post("run-one/", {"queue_name": GATED}).json() == {
        "processed": False, "duplicate": False, "id": None, "task": None
    }


def test_a_repeated_delivery_releases_nothing_more(
    api: Api, backend: TemporalTaskBackend
) -> None:
    first = tasks.add.using(queue_name=GATED, priority=9).enqueue(1, 1)
    second = tasks.add.using(queue_name=GATED).enqueue(1, 1)
    wait_visible(backend, 2, queue_name=GATED, waiting=True)
    scheduled = {**SCHEDULER_HEADERS, "HTTP_X_CLOUDSCHEDULER_SCHEDULETIME": "2026-11-27T04:00:00Z"}
    one = api.post("run-one/", b'{"queue_name": "nightly"}', "application/octet-stream",
                   **scheduled).json()
    again = api.post("run-one/", b'{"queue_name": "nightly"}', "application/octet-stream",
                     **scheduled).json()
    assert one == {"processed": True, "duplicate": False, "id": first.id, "task": None}
    assert again == {"processed": True, "duplicate": True, "id": first.id, "task": None}
    keyed = api.post("run/", {"queue_name": GATED}, HTTP_IDEMPOTENCY_KEY="nightly-42").json()
    # Without a worker, `first` still waits in visibility: signalling it again is harmless.
    assert second.id in keyed["released"] and not keyed["duplicate"]
    repeat = api.post("run/", {"queue_name": GATED}, HTTP_IDEMPOTENCY_KEY="nightly-42").json()
    assert repeat["duplicate"] and repeat["released"] == keyed["released"]
    assert repeat["batch_job_id"] == keyed["batch_job_id"]
    bad = api.post("run/", {}, HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert "Idempotency-Key" in assert_error(bad, 400, "invalid")["errors"]


def test_execute_runs_a_waiting_task_once_even_when_delivered_twice(
    api: Api, backend: TemporalTaskBackend, worker: Any
) -> None:
    waiting = tasks.add.using(queue_name=GATED).enqueue(2, 3)
    first = api.post(f"execute/{waiting.id}/")
    assert first.status_code == 200, first.content
    assert first.json()["action"] == "released"
    second = api.post(f"execute/{waiting.id}/")  # a retried delivery
    assert second.status_code in (200, 409)
    result = wait_finished(backend, waiting.id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1
    assert_error(api.post(f"execute/{waiting.id}/"), 409, "task_finished")


def test_execute_keeps_run_after_unless_forced(api: Api, worker: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    later = timezone.now() + timedelta(hours=2)
    delayed = tasks.add.using(run_after=later).enqueue(1, 1)
    kept = api.post(f"execute/{delayed.id}/", {"wait": 1}).json()
    assert kept["task"]["status"] == "READY" and kept["task"]["run_after"]
    forced = api.post(f"execute/{delayed.id}/", {"force": True, "wait": 30}).json()
    assert forced["task"]["status"] == "SUCCESSFUL"


def test_execute_conflicts_and_retries(api: Api, backend: TemporalTaskBackend,
                                       worker: Any) -> None:
    failed = tasks.fail.enqueue("no")
    wait_finished(backend, failed.id)
    assert api.get(f"status/{failed.id}/").json()["attempts"] == 1  # now cached
    assert_error(api.post(f"execute/{failed.id}/"), 409, "task_finished")
    body = api.post(f"execute/{failed.id}/", {"allow_retry": True, "wait": 30}).json()
    assert body["action"] == "retried"
    assert body["task"]["status"] == "FAILED" and body["task"]["attempts"] == 2
    assert api.get(f"status/{failed.id}/").json()["attempts"] == 2  # not a cached answer
    running = tasks.sleep.enqueue(3)
    wait_for(lambda: api.get(f"status/{running.id}/").json()["status"] == "RUNNING")
    assert_error(api.post(f"execute/{running.id}/"), 409, "task_running")


def test_status_is_every_task_result_field(
    api: Api, backend: TemporalTaskBackend, worker: Any
) -> None:
    failed = tasks.fail.using(priority=42).enqueue("bad news")
    wait_finished(backend, failed.id)
    body = api.get(f"status/{failed.id}/").json()
    assert body["id"] == failed.id and body["status"] == "FAILED"
    assert (body["task_path"], body["queue_name"], body["priority"]) == (
        "tests.tasks.fail", "default", 42
    )
    assert body["args"] == ["bad news"] and body["kwargs"] == {}
    assert body["backend"] == "default" and body["run_after"] is None
    for field in ("enqueued_at", "started_at", "last_attempted_at", "finished_at"):
        assert body[field], field
    [error] = body["errors"]
    assert error["exception_class_path"] == "tests.tasks.TaskBoom"
    assert "bad news" in error["traceback"]
    assert len(body["worker_ids"]) == 1 and body["attempts"] == 1
    assert body["return_value"] is None and body["waiting_for_trigger"] is False
    assert api.get(f"status/{failed.id}/?backend=default").status_code == 200


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    for task_id in ["no-such-task", "x" * 300, "%00", "%E2%98%83", "a%09b"]:
        assert_error(api.get(f"status/{task_id}/"), 404, "not_found")
        assert_error(api.post(f"execute/{task_id}/"), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("run/", {"backend": "nope"}, "backend"),
        ("run/", {"max_tasks": -1}, "max_tasks"),
        ("run/", {"max_tasks": 10**12}, "max_tasks"),
        ("run/", {"max_tasks": "many"}, "max_tasks"),
        ("run/", {"wait": 3600}, "wait"),
        ("run/", {"queue_name": "bad queue!"}, "queue_name"),
        ("run/", {"queue_name": ["x"]}, "queue_name"),
        ("run/", {"force": "perhaps"}, "force"),
        ("run-one/", {"wait": -1}, "wait"),
        ("execute/abc/", {"allow_retry": "maybe"}, "allow_retry"),
        ("purge/", {"days": -1}, "days"),
        ("purge/", {"days": "NaN"}, "days"),
        ("purge/", {"days": 1e308}, "days"),
        ("purge/", {"status": "RUNNING"}, "status"),
    ],
)
def test_bad_fields_are_400_with_field_details(
    api: Api, path: str, body: Any, field: str
) -> None:
    error = assert_error(api.post(path, body), 400, "invalid")
    assert field in error["errors"], error


def test_unknown_backend_in_status_query_is_400(api: Api) -> None:
    error = assert_error(api.get("status/abc/?backend=nope"), 400)
    assert "backend" in error["errors"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "parse_error"),
        (b"[1, 2]", "application/json", 400, "parse_error"),
        (b"\xff\xfe", "application/json", 400, "parse_error"),
        (b"{}", "application/xml", 415, "unsupported_media_type"),
        (b"{" + b" " * 70_000 + b"}", "application/json", 413, "payload_too_large"),
        (b"a=" + b"x" * 70_000, "application/x-www-form-urlencoded", 413, "payload_too_large"),
        (b"[" * 30_000 + b"]" * 30_000, "application/json", 400, "parse_error"),
        (b"a=1&" * 1_500, "application/x-www-form-urlencoded", 400, "parse_error"),
        (b'{"queue_name": "nightly"}', "application/octet-stream", 200, None),
        (b'{"queue_name": "nightly"}', "text/plain", 200, None),
        (b"", "application/json", 200, None),
    ],
)
def test_bodies(api: Api, body: bytes, content_type: str, status: int, code: str | None) -> None:
    response = api.post("run/", body, content_type)
    if status == 200:
        assert response.status_code == 200, response.content
    else:
        assert_error(response, status, code)


def test_odd_requests(api: Api) -> None:
    assert api.client.head("/tasks/status/no-such/", **api.headers).status_code == 404
    options = api.client.options("/tasks/run/", **api.headers)
    assert options.status_code == 200 and options.json()["name"]
    response = api.client.post(
        "/tasks/run/", "{}", content_type="application/json", **api.headers,
        HTTP_X_CLOUDSCHEDULER_JOBNAME="caf\xe9",
    )
    assert response.status_code == 200


def test_wrong_method_is_405_json(api: Api) -> None:
    assert_error(api.get("run/"), 405, "method_not_allowed")
    assert_error(api.client.delete("/tasks/purge/", **api.headers), 405)


def test_anonymous_callers_learn_nothing(certs: CertsServer, backend: TemporalTaskBackend) -> None:
    client = Client()
    for method, path in [("get", "status/no-such-task/"), ("post", "run/"),
                         ("post", "execute/x/"), ("post", "purge/"), ("options", "run/")]:
        response = getattr(client, method)(f"/tasks/{path}")
        body = assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "task" not in body["detail"].lower() or "token" in body["detail"].lower()


def test_per_endpoint_allow_lists(certs: CertsServer, backend: TemporalTaskBackend) -> None:
    reader = Api(bearer(email=READER))
    assert_error(reader.get("status/no-such-task/"), 404)
    assert_error(reader.post("purge/", {"days": 0}), 403)
    assert_error(reader.post("run/", {}), 403)


def test_temporal_down_is_503(certs: CertsServer, temporal_server: Any) -> None:
    down = tasks_setting(f"127.0.0.1:{free_port()}", connect_timeout=1)
    with override_settings(TASKS=down):
        api = Api(bearer())
        assert_error(api.get("status/abc/"), 503, "temporal_unavailable")
        assert_error(api.post("run/", {}), 503, "temporal_unavailable")


def test_purge_starts_a_batch_deletion(api: Api, backend: TemporalTaskBackend,
                                       worker: Any) -> None:
    done = [tasks.add.enqueue(i, i) for i in range(2)]
    for r in done:
        wait_finished(backend, r.id)
    assert api.post("purge/", {"queue_name": "default"}).json() == {
        "batch_job_id": None, "matched": 0  # younger than the default 7 days
    }
    assert api.post("purge/", {"days": 0, "queue_name": "default", "status": "FAILED"}).json()[
        "matched"
    ] == 0
    body = api.post("purge/", {"days": 0, "queue_name": "default"}).json()
    assert body["matched"] == 2 and body["batch_job_id"]
    wait_for(lambda: api.get(f"status/{done[0].id}/").status_code == 404, timeout=60)


def test_status_json_is_what_the_schema_serializer_renders(
    api: Api, backend: TemporalTaskBackend, worker: Any
) -> None:
    from django_tasks_temporal.api.serializers import TaskSerializer, task_data
    from django_tasks_temporal.operations import TaskOperations

    ops = TaskOperations(backend)
    done = tasks.echo.using(priority=3).enqueue(1, "two", three=[3])
    failed = tasks.fail.enqueue("x")
    waiting = tasks.add.using(queue_name=GATED).enqueue(1, 1)
    for r in (done, failed):
        wait_finished(backend, r.id)
    for r in (done, failed, waiting):
        summary = ops.get(r.id)
        assert task_data(summary) == dict(TaskSerializer(summary).data)


def test_status_says_when_no_worker_serves_a_ready_tasks_queue(
    api: Api, backend: TemporalTaskBackend, worker: Any
) -> None:
    unserved = tasks.add.using(queue_name="emails").enqueue(1, 1)  # the worker serves default
    assert api.get(f"status/{unserved.id}/").json()["queue_served"] is False
    served = tasks.add.using(run_after=_later()).enqueue(1, 1)  # READY on a served queue
    assert api.get(f"status/{served.id}/").json()["queue_served"] is True
    done = tasks.add.enqueue(2, 2)
    wait_finished(backend, done.id)
    assert api.get(f"status/{done.id}/").json()["queue_served"] is None  # not READY


def _later() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(hours=1)
