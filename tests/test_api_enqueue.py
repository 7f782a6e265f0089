"""`POST enqueue/<name>/` against a real Temporal server, with requests as Google sends them:
Pub/Sub push envelopes, Eventarc's binary-mode CloudEvents, structured CloudEvents, and a
partner's plain JSON webhook with an Idempotency-Key, each signed with the test OIDC key."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.tasks.signals import task_enqueued
from django.test import Client, override_settings

from django_tasks_temporal import client as temporal
from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.deliveries import delivery_task_id
from django_tasks_temporal.operations import TaskOperations
from tests.conftest import tasks_setting, wait_finished, wait_visible
from tests.oidc import READER, SCHEDULER, CertsServer, claims, serving_certs, signing_key
from tests.slow_proxy import SlowProxy

KEY = signing_key("enqueue-key")
PUSHER = "pusher@tests.iam.gserviceaccount.com"  # allowed on enqueue/ only
GATED = "nightly"
SUBSCRIPTION = "projects/shop/subscriptions/orders-push"
ENQUEUE = {
    "orders": {"task": "tests.tasks.add", "format": "pubsub"},
    "order-events": {"task": "tests.tasks.echo", "format": "pubsub", "arguments": "event"},
    "uploads": {"task": "tests.tasks.echo", "format": "cloudevents", "arguments": "event"},
    "sums": {"task": "tests.tasks.add", "format": "cloudevents"},
    "webhook": {"task": "tests.tasks.echo", "format": "json"},
    "anything": {"task": "tests.tasks.add"},
    "gated": {"task": "tests.tasks.add", "queue_name": GATED, "priority": 7},
    "private": {"task": "tests.tasks.add", "allowed_emails": ["someone-else@tests.example"]},
    "mine": {"task": "tests.tasks.add", "allowed_emails": [PUSHER.upper()]},
    "broken": {"task": "tests.tasks.no_such_task"},
    "context": {"task": "tests.tasks.record_order", "format": "pubsub"},
}


@pytest.fixture(scope="module")
def certs() -> Iterator[CertsServer]:
    with serving_certs(KEY) as server:
        yield server


@pytest.fixture
def backend_options() -> dict[str, Any]:
    return {"trigger_queues": [GATED]}


@pytest.fixture(autouse=True)
def declared() -> Iterator[None]:
    with override_settings(
        TASKS_API_ENQUEUE=ENQUEUE,
        TASKS_API_ENDPOINT_EMAILS={"status": [READER], "enqueue": [PUSHER]},
    ):
        yield


@pytest.fixture
def enqueued() -> Iterator[list[str]]:
    """Ids of the tasks the endpoint reported as enqueued (task_enqueued)."""
    ids: list[str] = []

    def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
        ids.append(task_result.id)

    task_enqueued.connect(receiver, weak=False)
    yield ids
    task_enqueued.disconnect(receiver)


def token(email: str = PUSHER) -> str:
    return f"Bearer {KEY.sign(claims(email=email))}"


def b64(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def envelope(message_id: str, payload: Any, **message: Any) -> dict[str, Any]:
    """A Pub/Sub push body, with both spellings of its fields, as Pub/Sub sends it."""
    return {
        "message": {
            "data": b64(payload),
            "attributes": {"origin": "checkout"},
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-11-27T13:00:17.786Z",
            "publish_time": "2026-11-27T13:00:17.786Z",
            **message,
        },
        "subscription": SUBSCRIPTION,
    }


def post(name: str, body: Any, *, email: str = PUSHER, query: str = "",
         content_type: str = "application/json", **headers: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body)
    return Client().post(
        f"/tasks/enqueue/{name}/{query}", data, content_type=content_type,
        HTTP_AUTHORIZATION=token(email), HTTP_USER_AGENT="APIs-Google", **headers,
    )


def push(name: str, message_id: str, data: Any, **kwargs: Any) -> Any:
    return post(name, envelope(message_id, data), **kwargs)


def eventarc(name: str, event_id: str, data: Any, **headers: Any) -> Any:
    """A binary-mode CloudEvent as Eventarc delivers a Cloud Storage event."""
    return post(name, data, content_type="application/json; charset=utf-8", **{
        "HTTP_CE_ID": event_id,
        "HTTP_CE_SOURCE": "//storage.googleapis.com/projects/_/buckets/shop-reports",
        "HTTP_CE_TYPE": "google.cloud.storage.object.v1.finalized",
        "HTTP_CE_SPECVERSION": "1.0",
        "HTTP_CE_TIME": "2026-11-27T13:00:17.786Z",
        "HTTP_CE_SUBJECT": "objects/daily.csv",
        **headers,
    })


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code and isinstance(body["detail"], str), body
    return body


def runs_of(backend: TemporalTaskBackend, task_id: str) -> int:
    """How many workflow runs carry this id (visibility, so call it after wait_visible)."""

    async def count(client: Any) -> int:
        return (await client.count_workflows(f"WorkflowId = '{task_id}'")).count

    return temporal.call(backend.config, count)


def started(backend: TemporalTaskBackend) -> int:
    ops = TaskOperations(backend)
    return ops.count(ops.query())


def test_one_task_per_pubsub_message_across_redeliveries(
    certs: CertsServer, backend: TemporalTaskBackend, enqueued: list[str], start_worker: Any
) -> None:
    first = push("orders", "1001", {"a": 20, "b": 22})
    assert first.status_code == 202, first.content
    task_id = first.json()["id"]
    assert first.json() == {"id": task_id, "duplicate": False, "task": None}
    assert first["Location"] == f"/tasks/status/{task_id}/"
    assert push("orders", "1001", {"a": 20, "b": 22}).json() == {
        "id": task_id, "duplicate": True, "task": None
    }
    # Three more at once, as Pub/Sub does when acknowledgements are late.
    answers: list[Any] = []
    threads = [
        threading.Thread(target=lambda: answers.append(push("orders", "1001", {"a": 20, "b": 22})))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(r.status_code, r.json()["id"], r.json()["duplicate"]) for r in answers] == [
        (200, task_id, True)
    ] * 3
    assert enqueued == [task_id]
    wait_visible(backend, 1)
    time.sleep(1)  # a second run would be listed by now
    assert started(backend) == 1 and runs_of(backend, task_id) == 1
    start_worker()
    result = wait_finished(backend, task_id)
    assert (result.args, result.kwargs, result.return_value) == ([], {"a": 20, "b": 22}, 42)


def test_concurrent_first_deliveries_start_one_task(
    certs: CertsServer, backend: TemporalTaskBackend, enqueued: list[str]
) -> None:
    barrier = threading.Barrier(5)
    answers: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(push("orders", "2002", {"a": 1, "b": 2}))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 202]
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(enqueued) == 1
    wait_visible(backend, 1)
    time.sleep(1)
    assert started(backend) == 1


def test_other_messages_and_subscriptions_are_other_tasks(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    one = push("orders", "3003", {"a": 1, "b": 1}).json()["id"]
    two = push("orders", "3004", {"a": 1, "b": 1}).json()["id"]
    other = {**envelope("3003", {"a": 1, "b": 1}), "subscription": "projects/shop/subscriptions/b"}
    three = post("orders", other).json()["id"]
    assert len({one, two, three}) == 3
    # The same message id to another declared name is another task too.
    assert post("anything", envelope("3003", {"a": 1, "b": 1})).json()["id"] not in {one, three}


def test_a_pubsub_message_as_one_event_argument(
    certs: CertsServer, backend: TemporalTaskBackend, worker: Any
) -> None:
    response = push("order-events", "4004", {"order": 7}, query="?wait=30")
    assert response.status_code == 202, response.content
    task = response.json()["task"]
    assert task["status"] == "SUCCESSFUL" and task["task_path"] == "tests.tasks.echo"
    assert task["args"] == [{
        "data": {"order": 7},
        "attributes": {"origin": "checkout"},
        "message_id": "4004",
        "publish_time": "2026-11-27T13:00:17.786Z",
        "subscription": SUBSCRIPTION,
    }]
    again = push("order-events", "4004", {"order": 7}, query="?wait=30")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["task"]["return_value"] == task["return_value"]


def test_eventarc_binary_mode_cloudevent(
    certs: CertsServer, backend: TemporalTaskBackend, enqueued: list[str]
) -> None:
    data = {"bucket": "shop-reports", "name": "daily.csv", "size": "1024"}
    first = eventarc("uploads", "evt-1", data)
    assert first.status_code == 202, first.content
    task_id = first.json()["id"]
    assert eventarc("uploads", "evt-1", data).json() == {
        "id": task_id, "duplicate": True, "task": None
    }
    assert enqueued == [task_id]
    status = Client().get(first["Location"], HTTP_AUTHORIZATION=token(SCHEDULER)).json()
    assert status["args"] == [{
        "id": "evt-1",
        "source": "//storage.googleapis.com/projects/_/buckets/shop-reports",
        "type": "google.cloud.storage.object.v1.finalized",
        "specversion": "1.0",
        "time": "2026-11-27T13:00:17.786Z",
        "subject": "objects/daily.csv",
        "data": data,
    }]
    # Same id from another source: another event (CloudEvents identify by source + id).
    other = eventarc("uploads", "evt-1", data, HTTP_CE_SOURCE="//storage.googleapis.com/b2")
    assert other.status_code == 202 and other.json()["id"] != task_id


def test_structured_mode_cloudevents(certs: CertsServer, backend: TemporalTaskBackend) -> None:
    event = {"specversion": "1.0", "id": "e-9", "source": "/partner", "type": "sum.requested",
             "data": {"a": 2, "b": 3}}
    response = post("sums", event, content_type="application/cloudevents+json")
    assert response.status_code == 202, response.content
    task_id = response.json()["id"]
    encoded = {k: v for k, v in event.items() if k != "data"}
    encoded["data_base64"] = b64({"a": 2, "b": 3})
    again = post("sums", encoded, content_type="application/cloudevents+json")
    assert again.json() == {"id": task_id, "duplicate": True, "task": None}
    result = backend.get_result(task_id)
    assert (result.args, result.kwargs) == ([], {"a": 2, "b": 3})


def test_eventarc_pubsub_events_unwrap_the_message(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    response = eventarc(
        "sums", "555", envelope("555", {"a": 4, "b": 5}),
        HTTP_CE_TYPE="google.cloud.pubsub.topic.v1.messagePublished",
        HTTP_CE_SOURCE="//pubsub.googleapis.com/projects/shop/topics/sums",
    )
    assert response.status_code == 202, response.content
    assert backend.get_result(response.json()["id"]).kwargs == {"a": 4, "b": 5}


def test_plain_webhook_with_an_idempotency_key(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    body = {"args": [1, "two"], "kwargs": {"three": [3]}, "run_after": "2099-01-01T00:00:00Z"}
    first = post("webhook", body, HTTP_IDEMPOTENCY_KEY="partner-42")
    assert first.status_code == 202, first.content
    again = post("webhook", body, HTTP_IDEMPOTENCY_KEY="partner-42")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    result = backend.get_result(first.json()["id"])
    assert (result.args, result.kwargs) == ([1, "two"], {"three": [3]})
    assert result.task.run_after is not None and result.task.run_after.year == 2099
    # A wait for a task that cannot start before it ends is no wait: its state now.
    began = time.monotonic()
    delayed = post("webhook", body, query="?wait=60", HTTP_IDEMPOTENCY_KEY="partner-42").json()
    assert time.monotonic() - began < 10 and delayed["duplicate"] is True
    assert delayed["task"]["status"] == "READY"
    assert delayed["task"]["run_after"] == "2099-01-01T00:00:00Z"
    # Without a key, each delivery is a new task.
    ids = {post("webhook", {"args": [1]}).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert post("webhook", {}, HTTP_IDEMPOTENCY_KEY="x" * 300).json()["errors"][
        "Idempotency-Key"
    ]


def test_auto_format_tells_the_bodies_apart(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    ids = [
        post("anything", {"args": [1, 2]}).json()["id"],
        push("anything", "6006", {"a": 1, "b": 2}).json()["id"],
        eventarc("anything", "6006", {"a": 1, "b": 2}).json()["id"],
        post("anything", {"specversion": "1.0", "id": "6", "source": "/s", "type": "t",
                          "data": {"a": 1, "b": 2}},
             content_type="application/cloudevents+json").json()["id"],
    ]
    for task_id in ids:
        assert backend.get_result(task_id).task.module_path == "tests.tasks.add"


def test_declared_queue_and_priority_apply(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    response = push("gated", "7007", {"a": 1, "b": 1})
    status = Client().get(response["Location"], HTTP_AUTHORIZATION=token(SCHEDULER)).json()
    assert (status["queue_name"], status["priority"]) == (GATED, 7)
    assert status["waiting_for_trigger"] is True


def test_arguments_are_checked_against_the_task_without_its_context(
    certs: CertsServer, backend: TemporalTaskBackend
) -> None:
    # record_order(context, path, label): the sender gives path and label only.
    error = assert_error(push("context", "11011", {"path": "/tmp/x"}), 400, "invalid")
    assert error["errors"]["arguments"] == ["The task takes (path, label); these do not fit."]
    assert push("context", "11011", {"path": "/tmp/x", "label": "a"}).status_code == 202


def test_unknown_names_answer_404_to_everyone_and_start_nothing(
    certs: CertsServer, backend: TemporalTaskBackend, enqueued: list[str]
) -> None:
    body = envelope("8008", {"a": 1, "b": 1})
    unknown = assert_error(post("no-such-name", body), 404, "not_found")
    # Declared, but this caller is not in its allowed_emails: the very same answer.
    assert assert_error(post("private", body), 404, "not_found") == unknown
    assert assert_error(post("private", body, email=SCHEDULER), 404, "not_found") == unknown
    assert assert_error(post("x" * 300, body), 404, "not_found") == unknown
    # allowed_emails narrows, comparing addresses case-insensitively.
    assert post("mine", body).status_code == 202
    assert post("mine", body, email=SCHEDULER).status_code == 404
    # Authentication and the endpoint's allow-list come first, whatever the name.
    for name in ("orders", "no-such-name"):
        anonymous = Client().post(f"/tasks/enqueue/{name}/", json.dumps(body),
                                  content_type="application/json")
        assert_error(anonymous, 401, "not_authenticated")
        assert_error(post(name, body, email=READER), 403, "forbidden")
    assert len(enqueued) == 1


BAD_REQUESTS: list[tuple[str, str, Any, str, int, str, str | None]] = [
    # (what, name, body, content type, status, code, field)
    ("no envelope", "orders", {"a": 1}, "application/json", 400, "invalid", "message"),
    ("no message id", "orders", {"message": {"data": b64({})}, "subscription": "s"},
     "application/json", 400, "invalid", "message.messageId"),
    ("no subscription", "orders", {"message": {"messageId": "1"}}, "application/json", 400,
     "invalid", "subscription"),
    ("data not base64", "orders", envelope("9", None, data="not base64!"), "application/json",
     400, "invalid", "message.data"),
    ("data not JSON", "orders",
     envelope("9", None, data=base64.b64encode(b"\xff{").decode()), "application/json",
     400, "invalid", "message.data"),
    ("data not an object", "orders", envelope("9", [1, 2]), "application/json", 400, "invalid",
     "message.data"),
    ("attributes not strings", "orders", envelope("9", {}, attributes={"n": 1}),
     "application/json", 400, "invalid", "message.attributes"),
    ("arguments that do not fit", "orders", envelope("9", {"a": 1, "c": 2}),
     "application/json", 400, "invalid", "arguments"),
    ("NaN", "webhook", b'{"args": [NaN]}', "application/json", 400, "parse_error", None),
    ("lone surrogate", "webhook", b'{"args": ["\\ud800"]}', "application/json", 400,
     "parse_error", None),
    ("not JSON", "orders", b"{nope", "application/json", 400, "parse_error", None),
    ("XML", "orders", b"<a/>", "application/xml", 415, "unsupported_media_type", None),
    ("a form", "webhook", b"args=1", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type", None),
    ("unknown field", "webhook", {"args": [], "queue_name": "x"}, "application/json", 400,
     "invalid", "queue_name"),
    ("args not a list", "webhook", {"args": {"a": 1}}, "application/json", 400, "invalid",
     "args"),
    ("bad run_after", "webhook", {"run_after": "soon"}, "application/json", 400, "invalid",
     "run_after"),
    ("no CloudEvent", "sums", {"a": 1, "b": 2}, "application/json", 400, "invalid",
     "ce-specversion"),
    ("CloudEvents 0.3", "sums", {"specversion": "0.3", "id": "1", "source": "/s", "type": "t"},
     "application/cloudevents+json", 400, "invalid", "specversion"),
    ("a CloudEvent without id", "sums", {"specversion": "1.0", "source": "/s", "type": "t"},
     "application/cloudevents+json", 400, "invalid", "id"),
    ("body over 3 MiB", "webhook", b'{"args": ["' + b"x" * (3 * 2**20) + b'"]}',
     "application/json", 413, "payload_too_large", None),
    ("arguments over the backend's limit", "webhook",
     b'{"args": ["' + b"x" * (2 * 2**20) + b'"]}', "application/json", 413,
     "arguments_too_large", None),
    ("bad wait", "orders", envelope("9", {"a": 1, "b": 1}), "application/json", 400, "invalid",
     "wait"),
]


def test_bad_requests_are_4xx_and_start_nothing(
    certs: CertsServer, backend: TemporalTaskBackend, enqueued: list[str]
) -> None:
    for what, name, body, content_type, status, code, field in BAD_REQUESTS:
        query = "?wait=301" if what == "bad wait" else ""
        response = post(name, body, content_type=content_type, query=query)
        error = assert_error(response, status, code)
        if field:
            assert field in error["errors"], (what, error)
        assert "Traceback" not in response.content.decode(), what
    assert enqueued == []
    time.sleep(1)  # anything started would be listed by now
    assert started(backend) == 0


def test_a_misconfigured_task_is_503_and_a_system_check(certs: CertsServer,
                                                        backend: TemporalTaskBackend) -> None:
    assert_error(push("broken", "1", {}), 503, "task_misconfigured")
    from django.core import checks

    [problem] = [m for m in checks.run_checks() if m.id == "django_tasks_temporal.E111"]
    assert "'tests.tasks.no_such_task' does not import" in problem.msg


def test_a_slow_temporal_answers_503_in_time_and_the_redelivery_finds_the_task(
    certs: CertsServer, temporal_server: Any, enqueued: list[str]
) -> None:
    with SlowProxy(temporal_server.target_host) as proxy:
        slow = {**ENQUEUE["orders"], "start_timeout": 1}
        with override_settings(
            TASKS=tasks_setting(proxy.address), TASKS_API_ENQUEUE={"orders": slow}
        ):
            from django.tasks import task_backends

            backend = task_backends["default"]
            assert isinstance(backend, TemporalTaskBackend)
            assert push("orders", "warm-up", {"a": 0, "b": 0}).status_code == 202
            proxy.delay = 3.0  # Temporal does the work; its answers come late
            began = time.monotonic()
            late = push("orders", "10010", {"a": 1, "b": 2})
            assert time.monotonic() - began < 2.5
            assert_error(late, 503, "temporal_unavailable")
            proxy.delay = 0.0
            time.sleep(3.5)  # the held-back answers drain
            again = push("orders", "10010", {"a": 1, "b": 2})
            assert again.status_code == 200, again.content  # the first delivery started it
            task_id = again.json()["id"]
            assert task_id == delivery_task_id(
                backend, "orders", ("pubsub", SUBSCRIPTION, "10010")
            )
            wait_visible(backend, 2)
            assert runs_of(backend, task_id) == 1
            assert backend.get_result(task_id).kwargs == {"a": 1, "b": 2}


def test_task_ids_are_namespaced_by_backend_and_name(backend: TemporalTaskBackend) -> None:
    delivery = ("pubsub", SUBSCRIPTION, "1")
    task_id = delivery_task_id(backend, "orders", delivery)
    assert task_id == delivery_task_id(backend, "orders", delivery)
    assert task_id.startswith("orders-") and len(task_id) == len("orders-") + 40
    assert task_id != delivery_task_id(backend, "other", delivery)
    assert task_id != delivery_task_id(backend, "orders", ("pubsub", SUBSCRIPTION, "2"))
    assert delivery_task_id(backend, "orders", None) != delivery_task_id(backend, "orders", None)
    with override_settings(TASKS=tasks_setting(backend.config.target_host)):
        from django.tasks import task_backends

        assert delivery_task_id(task_backends["default"], "orders", delivery) != task_id
