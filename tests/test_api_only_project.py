"""A slim API-only project: `rest_framework` and this app, without django.contrib.auth,
contenttypes or the admin (tests/settings_api_only.py), run in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from django_tasks_temporal.backend import TemporalTaskBackend
from tests.conftest import ROOT


def run_project(backend: TemporalTaskBackend, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_api_only",
        "TEMPORAL_TARGET_HOST": backend.config.target_host,
        "TEMPORAL_TASK_QUEUE": backend.config.task_queue,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def body(seen: dict[str, Any]) -> Any:
    assert seen["content_type"] == "application/json", seen
    return json.loads(seen["body"])


def test_the_trigger_service_answers_json_without_the_auth_apps(
    backend: TemporalTaskBackend,
) -> None:
    done = run_project(backend, "-m", "tests.api_only_probe")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    # No token: 401 with the Bearer challenge, as JSON (was a 500 HTML page: DRF's
    # AnonymousUser needs django.contrib.auth's models).
    assert seen["anonymous"]["status"] == 401, seen["anonymous"]
    assert seen["anonymous"]["www_authenticate"].startswith("Bearer ")
    assert body(seen["anonymous"])["code"] == "not_authenticated"
    # Closed by default: 403, and the system checks say why.
    assert seen["closed"]["status"] == 403, seen["closed"]
    assert body(seen["closed"])["code"] == "not_configured"
    assert "django_tasks_temporal.W101" in seen["closed_checks"]
    assert "django_tasks_temporal.W102" in seen["closed_checks"]
    # A valid token works end to end, and nothing loaded django.contrib.auth's models.
    assert seen["status"]["status"] == 200, seen["status"]
    assert body(seen["status"])["id"] == seen["task_id"]
    assert not seen["auth_models_imported"]


def test_manage_py_check_passes_without_the_auth_apps(backend: TemporalTaskBackend) -> None:
    done = run_project(backend, "-m", "django", "check", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
