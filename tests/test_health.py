"""The worker's health probe against a server that goes away and comes back."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from django.tasks import task_backends
from django.test import override_settings

from django_tasks_temporal.devserver import free_port, start_dev_server
from tests import tasks
from tests.conftest import SUMMARY, ThreadWorker, tasks_setting, wait_finished, wait_for


def probe(port: int, path: str = "/healthz") -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            json.loads(response.read())
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def seconds_until(port: int, status: int, timeout: float) -> float:
    began = time.monotonic()
    wait_for(lambda: probe(port) == status, timeout=timeout, interval=0.1)
    return time.monotonic() - began


def test_the_probe_fails_when_the_server_goes_away_and_recovers(tmp_path):
    server_port = free_port()
    db = str(tmp_path / "temporal.db")
    server = start_dev_server(port=server_port, db_filename=db)
    health_port = free_port()
    try:
        with override_settings(TASKS=tasks_setting(server.target_host, connect_timeout=20)):
            backend = task_backends["default"]
            worker = ThreadWorker(backend, health_bind=f"127.0.0.1:{health_port}").start()
            try:
                wait_for(lambda: probe(health_port) == 200, timeout=10)
                assert probe(health_port, "/readyz") == 200
                assert probe(health_port, "/nope") == 404
                server.stop()
                down = seconds_until(health_port, 503, timeout=10)
                assert probe(health_port, "/livez") == 200  # alive: restarting helps nothing
                server = start_dev_server(port=server_port, db_filename=db)
                up = seconds_until(health_port, 200, timeout=30)
                assert wait_finished(backend, tasks.add.enqueue(1, 2).id).return_value == 3
            finally:
                worker.stop()
            assert probe_refused(health_port)
    finally:
        server.stop()
    SUMMARY.append(f"health probe: 503 {down:.1f} s after the server stopped, 200 {up:.1f} s "
                   "after it was back")


def probe_refused(port: int) -> bool:
    try:
        probe(port)
    except OSError:
        return True
    return False


def test_a_worker_that_cannot_bind_its_probe_says_so(backend, spawn_worker):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = spawn_worker("--health-bind", f"127.0.0.1:{port}")
        assert worker.wait(timeout=60) == 2
    output = worker.stdout.read()
    assert f"Cannot serve the health probe on '127.0.0.1:{port}': the address is in use." in output
    assert "Traceback" not in output
