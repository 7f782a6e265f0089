"""Calls the trigger service of the slim API-only project (tests.settings_api_only).

Run by tests/test_api_only_project.py as `python -m tests.api_only_probe`, in a process
of its own: an app registry that loaded django.contrib.auth cannot lose it. Prints what
it saw as one line of JSON.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any


def _seen(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "content_type": response.headers.get("Content-Type"),
        "www_authenticate": response.headers.get("WWW-Authenticate"),
        "body": response.content.decode(),
    }


def probe() -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client, override_settings

    from tests import tasks
    from tests.oidc import claims, serving_certs, signing_key

    client = Client(raise_request_exception=False)
    seen = {"anonymous": _seen(client.get("/tasks/status/some-task/"))}
    closed = override_settings(TASKS_API_OIDC_AUDIENCES=[], TASKS_API_ALLOWED_EMAILS=[])
    with closed:
        run = client.post("/tasks/run/", {"queue_name": "x"}, content_type="application/json")
        seen["closed"] = _seen(run)
        checks = io.StringIO()
        call_command("check", stdout=checks, stderr=checks)
        seen["closed_checks"] = checks.getvalue()
    result = tasks.add.enqueue(1, 2)
    key = signing_key("api-only")
    with serving_certs(key):
        bearer = f"Bearer {key.sign(claims())}"
        seen["status"] = _seen(client.get(f"/tasks/status/{result.id}/", HTTP_AUTHORIZATION=bearer))
    seen["task_id"] = result.id
    seen["auth_models_imported"] = "django.contrib.auth.models" in sys.modules
    return seen


if __name__ == "__main__":
    print(json.dumps(probe()), flush=True)
    os._exit(0)  # a process that used a Temporal client may crash at exit (sdk-python#300)
