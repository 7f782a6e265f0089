"""GET schedules/ and POST schedules/<name>/trigger/ (pause/, unpause/) against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.test import override_settings

from django_tasks_temporal.backend import TemporalTaskBackend
from django_tasks_temporal.schedules import ScheduleOperations
from tests.conftest import ThreadWorker, wait_for
from tests.oidc import READER, CertsServer, claims, serving_certs, signing_key
from tests.schedules_support import declared, remove_schedules
from tests.test_api import Api, assert_error
from tests.test_schedules import HOURLY, NIGHTLY, create_foreign

KEY = signing_key("api-schedules-key")
NAMES = ["nightly", "hourly", "later", "gone", "taken"]


@pytest.fixture(scope="module")
def certs() -> Iterator[CertsServer]:
    with serving_certs(KEY) as server:
        yield server


@pytest.fixture
def api(certs: CertsServer, backend: TemporalTaskBackend) -> Iterator[Api]:
    yield Api({"HTTP_AUTHORIZATION": f"Bearer {KEY.sign(claims())}"})
    remove_schedules(backend, NAMES)


@pytest.fixture
def synced(backend: TemporalTaskBackend) -> Iterator[TemporalTaskBackend]:
    """nightly and hourly on Temporal, later only declared."""
    with declared(backend, {"nightly": NIGHTLY, "hourly": HOURLY}) as redeclared:
        ScheduleOperations(redeclared).sync()
    schedules = {"nightly": NIGHTLY, "hourly": HOURLY, "later": {**HOURLY, "cron": "@daily"}}
    with declared(backend, schedules) as redeclared:
        yield redeclared


def test_the_list_shows_each_declared_schedule_and_its_state(
    api: Api, synced: TemporalTaskBackend
) -> None:
    response = api.get("schedules/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["backend"] == "default"
    nightly, hourly, later = body["schedules"]
    assert nightly["name"] == "nightly" and nightly["sync_state"] == "synced"
    assert nightly["cron"] == "30 2 * * *" and nightly["time_zone"] == "Europe/Warsaw"
    assert nightly["exists"] and not nightly["paused"] and len(nightly["next_run_times"]) == 5
    assert nightly["task_path"] == "tests.tasks.echo" and nightly["overlap"] == "skip"
    assert hourly["overlap"] == "allow_all" and hourly["recent_runs"] == []
    assert later["sync_state"] == "missing" and not later["exists"]
    assert later["next_run_times"] == [] and later["schedule_id"].endswith(":later")


def test_trigger_starts_a_run_that_status_reads_like_any_task(
    api: Api, synced: TemporalTaskBackend
) -> None:
    worker = ThreadWorker(synced).start()
    try:
        response = api.post("schedules/hourly/trigger/", {})
        assert response.status_code == 200, response.content
        triggered = response.json()
        assert triggered["name"] == "hourly" and not triggered["skipped"]
        task_id = triggered["task_id"]
        assert task_id.startswith(f"{synced.config.task_queue}:hourly-")
        status = wait_for(lambda: (s := api.get(f"status/{task_id}/").json())["finished_at"] and s)
    finally:
        worker.stop()
    assert status["status"] == "SUCCESSFUL" and status["return_value"] == 3
    assert status["task_path"] == "tests.tasks.add" and status["enqueued_at"]
    listed = api.get("schedules/").json()["schedules"][1]
    assert listed["runs"] == 1 and listed["recent_runs"][0]["task_id"] == task_id


def test_a_repeated_delivery_starts_no_second_run(api: Api, synced: TemporalTaskBackend) -> None:
    first = api.post("schedules/hourly/trigger/", {}, HTTP_IDEMPOTENCY_KEY="deploy-42")
    time.sleep(1.1)  # runs' ids have whole seconds: a new second makes a new id
    again = api.post("schedules/hourly/trigger/", {}, HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert first.json()["task_id"] and again.status_code == 200
    assert again.json() == {"name": "hourly", "task_id": None, "skipped": False}
    assert ScheduleOperations(synced).get("hourly").runs == 1


def test_pause_and_unpause_with_notes(api: Api, synced: TemporalTaskBackend) -> None:
    paused = api.post("schedules/nightly/pause/", {"note": "Stocktaking tonight."})
    assert paused.status_code == 200, paused.content
    assert paused.json()["paused"] and paused.json()["note"] == "Stocktaking tonight."
    unpaused = api.post("schedules/nightly/unpause/", {}).json()
    assert not unpaused["paused"]
    assert unpaused["note"] == (
        "Unpaused through the trigger service by scheduler@tests.iam.gserviceaccount.com."
    )


def test_unknown_unsynced_and_blocked_schedules(api: Api, synced: TemporalTaskBackend) -> None:
    assert_error(api.post("schedules/nope/trigger/", {}), 404, "not_found")
    assert_error(api.post("schedules/bad%20name/pause/", {}), 404, "not_found")
    assert_error(api.post("schedules/later/trigger/", {}), 409, "schedule_not_synced")
    create_foreign(synced, "taken")
    assert_error(api.post("schedules/taken/trigger/", {}), 404, "not_found")  # not ours
    with declared(synced, {"taken": NIGHTLY}):
        body = assert_error(api.post("schedules/taken/trigger/", {}), 409, "schedule_blocked")
        assert "does not own" in body["detail"]


def test_bad_input_is_400(api: Api, synced: TemporalTaskBackend) -> None:
    body = assert_error(api.post("schedules/nightly/pause/", {"note": "x" * 501}), 400, "invalid")
    assert "note" in body["errors"]
    body = assert_error(api.get("schedules/?backend=nope"), 400, "invalid")
    assert "backend" in body["errors"]


def test_same_oidc_rules_with_their_own_allow_lists(
    certs: CertsServer, synced: TemporalTaskBackend
) -> None:
    anonymous = Api({})
    response = anonymous.get("schedules/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.post("schedules/nope/trigger/", {}).status_code == 401  # before 404
    reader = Api({"HTTP_AUTHORIZATION": f"Bearer {KEY.sign(claims(email=READER))}"})
    assert_error(reader.get("schedules/"), 403)
    with override_settings(TASKS_API_ENDPOINT_EMAILS={"schedules": [READER]}):
        assert reader.get("schedules/").status_code == 200
        assert_error(reader.post("schedules/nightly/trigger/", {}), 403)
        assert_error(reader.post("schedules/nightly/pause/", {}), 403)


def test_orphans_are_listed_and_can_be_paused(api: Api, backend: TemporalTaskBackend) -> None:
    with declared(backend, {"gone": HOURLY}) as redeclared:
        ScheduleOperations(redeclared).sync()
    with declared(backend, {}):
        schedules = wait_for(lambda: api.get("schedules/").json()["schedules"])
        [gone] = schedules
        assert gone["sync_state"] == "orphan" and gone["task_path"] == "tests.tasks.add"
        assert gone["when"] == "calendar (UTC)" and gone["cron"] is None
        assert api.post("schedules/gone/pause/", {}).json()["paused"]
