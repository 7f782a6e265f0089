"""The worker's Prometheus endpoint: scraped from a real worker process, parsed with
prometheus_client's parser, and compared with the tasks that really ran."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from typing import Any

from django.tasks import TaskResultStatus
from prometheus_client.parser import text_string_to_metric_families

from django_tasks_temporal.devserver import free_port
from django_tasks_temporal.metrics import BUCKETS
from tests import tasks
from tests.conftest import ROOT, started_attempts, subprocess_env, wait_finished, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_count_the_tasks_that_ran(backend, spawn_worker, tmp_path):
    port = free_port()
    worker = spawn_worker("--metrics-bind", f"127.0.0.1:{port}")
    ok = [tasks.add.enqueue(i, 1) for i in range(3)]
    bad = [tasks.fail.enqueue() for _ in range(2)]
    flaky = tasks.fail_twice_then_succeed.enqueue(str(tmp_path))
    for result in [*ok, *bad, flaky]:
        wait_finished(backend, result.id)
    assert backend.get_result(flaky.id).status == TaskResultStatus.SUCCESSFUL

    def settled() -> Samples | None:
        samples = scrape(port)
        done = value(samples, "django_tasks_attempts_finished_total")
        return samples if done == 8 else None

    samples = wait_for(settled, timeout=10)
    started = "django_tasks_attempts_started_total"
    finished = "django_tasks_attempts_finished_total"
    common = {"queue": "default", "backend": "default"}
    assert value(samples, started, task="tests.tasks.add", **common) == 3
    assert value(samples, started, task="tests.tasks.fail", **common) == 2
    assert value(samples, started, task="tests.tasks.fail_twice_then_succeed") == 3
    assert value(samples, finished, task="tests.tasks.add", outcome="succeeded") == 3
    assert value(samples, finished, task="tests.tasks.fail", outcome="failed") == 2
    flaky_path = "tests.tasks.fail_twice_then_succeed"
    assert value(samples, finished, task=flaky_path, outcome="retried") == 2
    assert value(samples, finished, task=flaky_path, outcome="succeeded") == 1
    assert value(samples, finished) == 8  # nothing else, nothing twice

    duration = "django_tasks_attempt_duration_seconds"
    assert value(samples, duration + "_count") == 8
    buckets: dict[float, float] = {}
    for (name, labels), count in samples.items():
        if name == duration + "_bucket":
            le = float(dict(labels)["le"])
            buckets[le] = buckets.get(le, 0) + count
    assert set(buckets) == {*BUCKETS, float("inf")}  # up to an hour
    assert buckets[3600.0] == buckets[float("inf")] == 8
    assert value(samples, "django_tasks_queue_wait_seconds_count") == 8
    # Temporal's own worker metrics are on the same endpoint.
    assert value(samples, "temporal_activity_execution_latency_count") >= 8
    assert any(n == "temporal_worker_task_slots_available" for n, _ in samples)
    # Bounded labels: no task id, no argument.
    ids = {r.id for r in [*ok, *bad, flaky]}
    assert not {v for _, ls in samples for _, v in ls} & ids
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0


def test_a_lost_attempt_is_counted_once(backend, spawn_worker, tmp_path):
    gate = str(tmp_path / "go")
    doomed = spawn_worker("--identity", "doomed")
    enqueued = tasks.wait_for_file.enqueue(gate)
    wait_for(lambda: started_attempts(gate) == 1)
    port = free_port()
    spawn_worker("--identity", "survivor", "--metrics-bind", f"127.0.0.1:{port}")
    doomed.send_signal(signal.SIGKILL)
    wait_for(lambda: started_attempts(gate) == 2, timeout=60)
    open(gate, "w").close()
    assert wait_finished(backend, enqueued.id).status == TaskResultStatus.SUCCESSFUL
    samples = scrape(port)
    lost = "django_tasks_attempts_lost_total"
    assert value(samples, lost, task="tests.tasks.wait_for_file", outcome="worker_lost") == 1
    assert value(samples, lost) == 1


def run_cli(backend: Any, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django_tasks_temporal.worker", *flags],
        env=subprocess_env(backend),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_busy_metrics_port_is_one_clear_line_and_exit_2(backend):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(backend, "--metrics-bind", f"127.0.0.1:{port}")
    assert done.returncode == 2, done.stderr
    assert f"Cannot serve metrics on '127.0.0.1:{port}': the address is in use." in done.stderr
    assert "Traceback" not in done.stderr


def test_a_web_process_listens_on_no_port(backend):
    """Enqueueing (what a web process does) opens no metrics endpoint, nor any port."""
    script = (
        "import django, os, psutil; django.setup()\n"
        "from tests import tasks\n"
        "tasks.add.enqueue(1, 2)\n"
        "connections = psutil.Process().net_connections('inet')\n"
        "print('LISTEN', sum(c.status == 'LISTEN' for c in connections), flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=subprocess_env(backend),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "LISTEN 0" in done.stdout, done.stdout + done.stderr
