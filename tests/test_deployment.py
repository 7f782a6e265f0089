"""The deployment files, checked offline: neither Docker nor Google Cloud runs here.

Dockerfile, docker-compose.yml and cloudbuild.yaml must agree with what the app really
reads: the environment variables of example/exampleproject/settings.py, the search
attributes and strict-priority dynamic config of the backend, and each other. The compose
file and cloudbuild.yaml are validated against the JSON schemas that check-jsonschema ships;
Cloud Build's step scripts are run with stand-in `gcloud` and `docker` commands that record
how they were called. No test here needs a Temporal server.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from django_tasks_temporal.devserver import BATCH_DYNAMIC_CONFIG, STRICT_PRIORITY_DYNAMIC_CONFIG
from django_tasks_temporal.options import BackendOptions, parse_options
from django_tasks_temporal.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "example" / "exampleproject" / "settings.py"
APP_SERVICES = ("migrate", "web", "worker")


def load_yaml(name: str) -> Any:
    with open(ROOT / name) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml("docker-compose.yml")
    return data


@pytest.fixture(scope="module")
def cloudbuild() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml("cloudbuild.yaml")
    return data


def settings_env_vars() -> set[str]:
    """The environment variables example/exampleproject/settings.py reads."""
    source = SETTINGS.read_text()
    return set(re.findall(r"os\.environ(?:\.get\(|\[)\"([A-Z0-9_]+)\"", source))


def example_settings(env: dict[str, str]) -> dict[str, Any]:
    """The example settings as a process with exactly `env` (of the app's variables) sees them."""
    saved = {name: os.environ.pop(name) for name in settings_env_vars() if name in os.environ}
    os.environ.update(env)
    try:
        return runpy.run_path(str(SETTINGS))
    finally:
        for name in env:
            os.environ.pop(name, None)
        os.environ.update(saved)


def resolve_compose_defaults(environment: dict[str, Any]) -> dict[str, str]:
    """`${NAME:-default}` as Compose interpolates it when NAME is not set."""
    return {
        name: re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))
        for name, value in environment.items()
    }


def backend_options(settings: dict[str, Any]) -> BackendOptions:
    options = parse_options(settings["TASKS"]["default"]["OPTIONS"])
    assert options.problems == ()
    return options


def container_port(mapping: str) -> int:
    return int(mapping.rsplit(":", 1)[1])


def host_port(mapping: str) -> int:
    return int(mapping.split(":")[1])


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def served_queues(worker_args: list[str]) -> set[str]:
    """The Django queues a worker started with these arguments serves (`--queue`)."""
    joined = " ".join(worker_args).replace("--queue=", "--queue ")
    return set(re.findall(r"--queue (\S+)", joined))


def queues_a_worker_must_serve() -> set[str]:
    """Django's default queue, and the trigger queues that the scheduler releases."""
    options = example_settings({})["TASKS"]["default"]["OPTIONS"]
    return {"default", *options["trigger_queues"]}


def script_inputs(script: str) -> set[str]:
    """The environment variables a setup script reads without giving them a value itself."""
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", script))
    assigned = set(re.findall(r"(?:export |\$\{)([A-Z][A-Z0-9_]*)(?:=|:=)", script))
    return used - assigned


def mounted_script(service: dict[str, Any]) -> str:
    """The text of the script a compose service runs from its read-only ./deploy mount."""
    source, target = service["volumes"][0].split(":")[:2]
    script_path = Path(service["command"][-1])
    assert script_path.parent == Path(target)
    return (ROOT / source / script_path.name).read_text()


def search_attribute_flags(script: str) -> dict[str, str]:
    return dict(re.findall(r"--name (\w+) --type (\w+)", script))


# --- the schemas -------------------------------------------------------------------------


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("schema", "filename"),
    [("vendor.compose-spec", "docker-compose.yml"), ("vendor.cloudbuild", "cloudbuild.yaml")],
)
def test_file_matches_its_json_schema(schema: str, filename: str) -> None:
    result = check_jsonschema(schema, ROOT / filename)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    broken = load_yaml("docker-compose.yml")
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert check_jsonschema("vendor.compose-spec", path).returncode != 0


# --- docker-compose.yml ------------------------------------------------------------------


def test_compose_publishes_ports_on_loopback_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {name: services[name]["ports"] for name in services if "ports" in services[name]}
    assert set(published) == {"temporal", "temporal-ui", "web", "prometheus", "grafana"}
    for ports in published.values():
        for mapping in ports:
            assert isinstance(mapping, str) and mapping.startswith("127.0.0.1:"), mapping


def test_compose_app_environment_is_what_the_settings_read(compose: dict[str, Any]) -> None:
    services = compose["services"]
    environments = [services[name]["environment"] for name in APP_SERVICES]
    assert environments[0] == environments[1] == environments[2]
    environment = resolve_compose_defaults(environments[0])
    assert set(environment) <= settings_env_vars()

    settings = example_settings(environment)
    options = backend_options(settings)
    host, port = options.target_host.split(":")
    assert host == "temporal" and f"127.0.0.1:{port}:{port}" in services["temporal"]["ports"]
    setup = services["temporal-setup"]["environment"]
    assert setup["TEMPORAL_ADDRESS"] == options.target_host
    assert setup["TEMPORAL_NAMESPACE"] == options.namespace
    assert options.task_queue == BackendOptions().task_queue == "django-tasks"
    assert options.api_key is None and options.tls is None  # plain gRPC inside the stack

    assert settings["DEBUG"] is False
    database = settings["DATABASES"]["default"]
    db = services["db"]["environment"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"]) == ("db", "5432")
    assert (database["USER"], database["PASSWORD"], database["NAME"]) == (
        db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"]
    )
    ui_port = host_port(services["temporal-ui"]["ports"][0])
    assert settings["TASKS_ADMIN_TEMPORAL_UI_URL"] == f"http://127.0.0.1:{ui_port}"
    # Closed by default: the trigger endpoints answer 403 until both are configured.
    assert settings["TASKS_API_OIDC_AUDIENCES"] == settings["TASKS_API_ALLOWED_EMAILS"] == []


def test_compose_temporal_server_runs_on_postgres_with_strict_priority(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    server = services["temporal"]
    assert server["image"].startswith("temporalio/server:")
    env = server["environment"]
    database = services["temporal-db"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "temporal-db" and env["DB_PORT"] == "5432"
    assert (env["POSTGRES_USER"], env["POSTGRES_PWD"]) == (
        database["POSTGRES_USER"], database["POSTGRES_PASSWORD"]
    )
    assert env["BIND_ON_IP"] == "0.0.0.0"
    # The schema job creates the databases the server opens.
    schema_env = services["temporal-schema"]["environment"]
    assert {k: schema_env[k] for k in ("DBNAME", "VISIBILITY_DBNAME")} == {
        k: env[k] for k in ("DBNAME", "VISIBILITY_DBNAME")
    }
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert script_inputs(mounted_script(services["temporal-schema"])) <= set(schema_env)

    config_path = Path(env["DYNAMIC_CONFIG_FILE_PATH"])
    source, target = server["volumes"][0].split(":")[:2]
    assert config_path.parent == Path(target)
    config = yaml.safe_load((ROOT / source / config_path.name).read_text())
    assert {key: str(values[0]["value"]) for key, values in config.items()} == {
        **STRICT_PRIORITY_DYNAMIC_CONFIG, **BATCH_DYNAMIC_CONFIG
    }
    assert all(values[0].get("constraints") is None for values in config.values())


def test_compose_registers_namespace_and_search_attributes(compose: dict[str, Any]) -> None:
    setup = compose["services"]["temporal-setup"]
    assert setup["image"].startswith("temporalio/admin-tools:")
    script = mounted_script(setup)
    assert script_inputs(script) <= set(setup["environment"])
    assert search_attribute_flags(script) == SEARCH_ATTRIBUTES
    assert "temporal operator namespace create" in script


def test_compose_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]

    def waits_for(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    assert waits_for("temporal-schema") == {"temporal-db": "service_healthy"}
    assert waits_for("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-setup") == {"temporal": "service_healthy"}
    assert waits_for("temporal-ui") == {"temporal": "service_healthy"}
    assert waits_for("migrate") == {"db": "service_healthy"}
    for name in ("web", "worker"):
        assert waits_for(name) == {
            "migrate": "service_completed_successfully",
            "temporal-setup": "service_completed_successfully",
        }
    for name in services:
        for dep, condition in waits_for(name).items() if "depends_on" in services[name] else ():
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], dep
            if condition == "service_completed_successfully":  # one-shot: never restarted
                assert services[dep].get("restart", "no") == "no", dep
    for name in ("temporal-db", "db", "temporal", "web"):
        assert "test" in services[name]["healthcheck"], name
    for name in ("temporal-db", "db", "temporal", "temporal-ui", "web", "worker"):
        assert services[name]["restart"] == "unless-stopped", name


def test_compose_app_services_share_the_image_and_its_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dockerfile = Dockerfile.read()
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    assert all(services[name]["build"] == "." for name in APP_SERVICES)

    assert "command" not in services["web"]  # the image's CMD: gunicorn
    assert dockerfile.cmd[0] == "gunicorn"
    worker = services["worker"]["command"]
    assert worker[:3] == ["python", "manage.py", "run_temporal_worker"]
    assert served_queues(worker) == queues_a_worker_must_serve()
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]

    port = int(dockerfile.env["PORT"])
    assert [container_port(p) for p in services["web"]["ports"]] == [port]
    probe = " ".join(services["web"]["healthcheck"]["test"])
    url = re.search(r"http://([\d.]+):(\d+)(/\S*?)'", probe)
    assert url and int(url[2]) == port
    settings = example_settings(resolve_compose_defaults(services["web"]["environment"]))
    assert url[1] in settings["ALLOWED_HOSTS"]
    assert url[3] == "/admin/login/"  # answers 200 without a login or a database query

    # `docker compose stop` must leave the worker its graceful shutdown.
    grace = seconds(services["worker"]["stop_grace_period"])
    assert grace > backend_options(settings).shutdown_timeout


# --- Dockerfile ----------------------------------------------------------------------------


class Dockerfile:
    """The instructions of the Dockerfile's final stage, joined across line continuations."""

    def __init__(self, text: str) -> None:
        joined = re.sub(r"\\\n\s*", " ", text)
        lines = [line.strip() for line in joined.splitlines()]
        self.instructions = [
            tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")
        ]
        stages = [i for i, (op, *_) in enumerate(self.instructions) if op == "FROM"]
        self.build = self.instructions[: stages[-1]]
        self.final = self.instructions[stages[-1] :]
        self.env: dict[str, str] = {}
        for op, *rest in self.final:
            if op == "ENV":
                self.env.update(
                    item.split("=", 1) for item in shlex.split(rest[0]) if "=" in item
                )
        self.cmd: list[str] = json.loads(self.last("CMD"))

    def last(self, op: str) -> str:
        return [rest[0] for o, *rest in self.final if o == op][-1]

    def all(self, op: str, stage: str = "final") -> list[str]:
        return [rest[0] for o, *rest in getattr(self, stage) if o == op]

    @classmethod
    def read(cls) -> Dockerfile:
        return cls((ROOT / "Dockerfile").read_text())


def test_dockerfile_runs_as_a_non_root_user() -> None:
    user = Dockerfile.read().last("USER")
    assert user.split(":")[0] not in ("root", "0")


def test_dockerfile_installs_exactly_the_lock_file() -> None:
    dockerfile = Dockerfile.read()
    syncs = [run for run in dockerfile.all("RUN", "build") if "uv sync" in run]
    assert syncs and all("--locked" in run for run in syncs)
    assert all("--no-dev" in run and "--group deploy" in run for run in syncs)
    installs = [run for run in dockerfile.all("RUN", "build") if "pip install" in run]
    assert [re.findall(r'"([^"]+)"', run) for run in installs] == [["uv==${UV_VERSION}"]]
    # The runtime stage gets the built virtualenv, not a second resolution.
    assert not any("pip install" in run or "uv " in run for run in dockerfile.all("RUN"))
    assert "/opt/venv" in dockerfile.all("COPY")[0]
    with open(ROOT / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    deploy_group = {
        re.split(r"[<>=\[ ]", requirement)[0]
        for requirement in pyproject["dependency-groups"]["deploy"]
    }
    assert {"gunicorn", "psycopg", "whitenoise"} <= deploy_group


def test_dockerfile_serves_the_example_project_with_gunicorn() -> None:
    dockerfile = Dockerfile.read()
    assert dockerfile.last("WORKDIR") == "/app"
    assert dockerfile.all("COPY")[-1] == "example/ ./"
    assert (ROOT / "example" / "manage.py").exists()
    settings = example_settings({})
    wsgi_module = settings["WSGI_APPLICATION"].rsplit(".", 1)[0]
    assert dockerfile.cmd[:2] == ["gunicorn", wsgi_module]
    assert "--preload" not in dockerfile.cmd  # the Temporal client's thread must not fork
    assert dockerfile.env["DJANGO_SETTINGS_MODULE"] == "exampleproject.settings"
    assert any("collectstatic --noinput" in run for run in dockerfile.all("RUN"))
    assert "WhiteNoise(" in (ROOT / "example" / "exampleproject" / "wsgi.py").read_text()


def test_dockerignore_lets_only_the_build_inputs_in() -> None:
    lines = [
        line for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    dockerfile = Dockerfile.read()
    sources = [
        source.rstrip("/")
        for copy in dockerfile.all("COPY", "build") + dockerfile.all("COPY")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    ]
    assert set(sources) <= allowed
    assert not allowed & {".git", ".venv", ".env", "tests", ".demo"}


# --- cloudbuild.yaml -----------------------------------------------------------------------


def step(cloudbuild: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in cloudbuild["steps"] if s["id"] == step_id)
    return found


REQUIRED = {
    "_TEMPORAL_TARGET_HOST": "my-namespace.a1b2c.tmprl.cloud:7233",
    "_AUDIENCE": "https://shop-web-123456789.europe-west1.run.app",
    "_SCHEDULER_SA": "scheduler@my-project.iam.gserviceaccount.com",
    "_RUNTIME_SA": "shop@my-project.iam.gserviceaccount.com",
}


def substitutions(cloudbuild: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The environment automapSubstitutions gives each step script."""
    return {
        **{name: str(value) for name, value in cloudbuild["substitutions"].items()},
        **REQUIRED,
        "PROJECT_ID": "my-project",
        "BUILD_ID": "b1d-0001",
        **overrides,
    }


def run_step(
    cloudbuild: dict[str, Any], step_id: str, workspace: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script = step(cloudbuild, step_id)["script"]
    interpreter = sys.executable if script.startswith("#!/usr/bin/env python") else "bash"
    path = workspace / f"{step_id}.step"
    path.write_text(script)
    return subprocess.run(
        [interpreter, str(path)],
        cwd=workspace,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


FAKE_COMMAND = """\
#!{python}
# Records how it was called; answers the few questions the scripts ask.
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
args = sys.argv[1:]
if args[:3] == ["run", "services", "describe"]:
    print("https://shop-web-123456789.europe-west1.run.app")
if args[:3] in (["scheduler", "jobs", "describe"], ["pubsub", "subscriptions", "describe"]):
    sys.exit(0 if os.environ["FAKE_JOB_EXISTS"] == "1" else 1)
"""


@pytest.fixture
def deploy(cloudbuild: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Run Cloud Build's steps in order in a workspace, with recording gcloud and docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gcloud", "docker"):
        (bin_dir / name).write_text(FAKE_COMMAND.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def run(*step_ids: str, job_exists: bool = False, **overrides: str) -> list[list[str]]:
        log.write_text("")
        env = {
            **substitutions(cloudbuild, **overrides),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_LOG": str(log),
            "FAKE_JOB_EXISTS": "1" if job_exists else "0",
        }
        for step_id in ("config", *step_ids):
            result = run_step(cloudbuild, step_id, tmp_path, env)
            assert result.returncode == 0, f"{step_id}: {result.stdout}{result.stderr}"
        return [json.loads(line) for line in log.read_text().splitlines()]

    yield run


def flags(call: list[str]) -> dict[str, str]:
    return {
        name: value
        for name, _, value in (arg[2:].partition("=") for arg in call if arg.startswith("--"))
    }


def test_cloudbuild_lints_and_tests_before_pushing(cloudbuild: dict[str, Any]) -> None:
    lint_and_test = step(cloudbuild, "lint-and-test")
    assert lint_and_test["name"].startswith("python:3.12")
    assert "bash .ci/run" in lint_and_test["script"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "uv sync --locked" in ci and "just lint" in ci and "just test" in ci
    assert "lint-and-test" in step(cloudbuild, "push")["waitFor"]

    order = [s["id"] for s in cloudbuild["steps"]]
    assert order == [
        "lint-and-test", "config", "build", "push", "migrate", "deploy-web", "deploy-worker",
        "scheduler", "pubsub",
    ]
    for later, earlier in [("migrate", "push"), ("deploy-web", "migrate"),
                           ("deploy-worker", "migrate"), ("scheduler", "deploy-web"),
                           ("pubsub", "deploy-web")]:
        assert step(cloudbuild, later)["waitFor"] == [earlier]
    assert cloudbuild["options"]["automapSubstitutions"] is True
    assert seconds(cloudbuild["timeout"]) >= 30 * 60


def test_cloudbuild_scripts_use_only_defined_substitutions(cloudbuild: dict[str, Any]) -> None:
    defined = set(cloudbuild["substitutions"])
    used = set()
    for s in cloudbuild["steps"]:
        used |= set(re.findall(r"\b_[A-Z][A-Z0-9_]+", s.get("script", "")))
    used |= set(re.findall(r"\b_[A-Z][A-Z0-9_]+", " ".join(cloudbuild["images"])))
    assert used <= defined
    assert defined - used == set()  # no dead substitution either


def test_cloudbuild_config_gives_the_app_its_settings(
    cloudbuild: dict[str, Any], tmp_path: Path
) -> None:
    env = substitutions(cloudbuild, _TEMPORAL_API_KEY_SECRET="temporal-api-key")
    result = run_step(cloudbuild, "config", tmp_path, env)
    assert result.returncode == 0, result.stderr

    app_env = yaml.safe_load((tmp_path / "app-env.yaml").read_text())
    assert all(isinstance(value, str) for value in app_env.values())
    shared = dict(
        line.split("=", 1) for line in shlex.split((tmp_path / "cloudrun.env").read_text())
    )
    secrets = dict(item.rsplit(":", 1)[0].split("=") for item in shared["SECRETS"].split(","))
    assert secrets == {
        "DJANGO_SECRET_KEY": "django-secret-key",
        "DATABASE_URL": "database-url",
        "TEMPORAL_API_KEY": "temporal-api-key",
    }
    assert set(app_env) | set(secrets) <= settings_env_vars()

    settings = example_settings({
        **app_env,
        "DJANGO_SECRET_KEY": "from-secret-manager",
        "DATABASE_URL": "postgres://shop:pw@10.0.0.5:5432/shop",
        "TEMPORAL_API_KEY": "from-secret-manager",
    })
    # The Cloud Scheduler job's token is accepted: its aud and its email.
    assert settings["TASKS_API_OIDC_AUDIENCES"] == [REQUIRED["_AUDIENCE"]]
    assert settings["TASKS_API_ALLOWED_EMAILS"] == [REQUIRED["_SCHEDULER_SA"]]
    assert settings["TASKS_API_ENDPOINT_EMAILS"]["enqueue"] == []  # no _PUBSUB_SA
    options = backend_options(settings)
    assert options.target_host == REQUIRED["_TEMPORAL_TARGET_HOST"]
    assert options.namespace == env["_TEMPORAL_NAMESPACE"]
    assert options.task_queue == env["_TEMPORAL_TASK_QUEUE"] == BackendOptions().task_queue
    assert options.api_key == "from-secret-manager"
    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == "from-secret-manager"
    assert ".run.app" in settings["ALLOWED_HOSTS"]

    image = cloudbuild["images"][0]
    for name, value in env.items():
        image = image.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert shared["IMAGE"] == image
    assert shared["RUNTIME_SA"] == REQUIRED["_RUNTIME_SA"]


def test_cloudbuild_config_needs_a_push_account_for_a_pubsub_topic(
    cloudbuild: dict[str, Any], tmp_path: Path
) -> None:
    env = substitutions(cloudbuild, _PUBSUB_TOPIC="stock-checks")
    result = run_step(cloudbuild, "config", tmp_path, env)
    assert result.returncode != 0 and "_PUBSUB_SA" in result.stderr
    env["_PUBSUB_SA"] = "pusher@my-project.iam.gserviceaccount.com"
    assert run_step(cloudbuild, "config", tmp_path, env).returncode == 0
    app_env = yaml.safe_load((tmp_path / "app-env.yaml").read_text())
    settings = example_settings(app_env)
    # Pub/Sub's token is accepted on enqueue/ only.
    assert settings["TASKS_API_ENDPOINT_EMAILS"]["enqueue"] == [env["_PUBSUB_SA"]]
    assert env["_PUBSUB_SA"] not in settings["TASKS_API_ALLOWED_EMAILS"]


def test_cloudbuild_config_stops_on_missing_substitutions(
    cloudbuild: dict[str, Any], tmp_path: Path
) -> None:
    env = substitutions(cloudbuild, _AUDIENCE="", _SCHEDULER_SA="")
    result = run_step(cloudbuild, "config", tmp_path, env)
    assert result.returncode != 0
    assert "_AUDIENCE, _SCHEDULER_SA" in result.stderr
    assert not (tmp_path / "app-env.yaml").exists()


def test_cloudbuild_builds_pushes_and_deploys(cloudbuild: dict[str, Any], deploy: Any) -> None:
    calls = deploy("build", "push", "migrate", "deploy-web", "deploy-worker")
    image = "europe-west1-docker.pkg.dev/my-project/django-tasks-temporal/example-shop:b1d-0001"
    assert calls[0] == ["docker", "build", "--tag", image, "."]
    assert calls[1] == ["docker", "push", image]

    migrate, web, worker = calls[2:]
    for call in (migrate, web, worker):
        assert flags(call)["image"] == image
        assert flags(call)["service-account"] == REQUIRED["_RUNTIME_SA"]
        assert flags(call)["env-vars-file"] == "app-env.yaml"
        assert "DATABASE_URL=database-url:latest" in flags(call)["set-secrets"]
    assert migrate[1:5] == ["run", "jobs", "deploy", "shop-migrate"]
    assert flags(migrate)["command"] == "python"
    assert flags(migrate)["args"] == "manage.py,migrate,--noinput"
    assert {"execute-now", "wait"} <= set(flags(migrate))

    assert web[1:4] == ["run", "deploy", "shop-web"]
    assert "command" not in flags(web) and "args" not in flags(web)  # the image's gunicorn
    assert "allow-unauthenticated" in flags(web)

    assert worker[1:4] == ["run", "deploy", "shop-worker"]
    worker_flags = flags(worker)
    assert worker_flags["args"].split(",")[:2] == ["-m", "exampleproject.cloudrun_worker"]
    assert "--health-bind=0.0.0.0:{port}" in (
        ROOT / "example" / "exampleproject" / "cloudrun_worker.py"
    ).read_text()
    assert "no-cpu-throttling" in worker_flags
    assert worker_flags["min-instances"] == worker_flags["max-instances"] == "1"
    assert "no-allow-unauthenticated" in worker_flags
    assert worker_flags["ingress"] == "internal"
    assert worker_flags["command"] == "python"
    module_flag, module, *worker_args = worker_flags["args"].split(",")
    assert module_flag == "-m"
    path = ROOT / "example" / (module.replace(".", "/") + ".py")
    assert 'run_temporal_worker"' in path.read_text()
    assert served_queues(worker_args) == queues_a_worker_must_serve()
    # Cloud Run sends SIGKILL 10 s after SIGTERM: shut down within that.
    (timeout,) = [arg.split("=")[1] for arg in worker_args if arg.startswith("--shutdown-timeout")]
    assert float(timeout) < 10


@pytest.mark.parametrize("job_exists", [False, True])
def test_cloudbuild_creates_or_updates_the_scheduler_job(deploy: Any, job_exists: bool) -> None:
    calls = deploy("scheduler", job_exists=job_exists)
    describe_service, describe_job, job = calls
    assert describe_service[1:5] == ["run", "services", "describe", "shop-web"]
    assert describe_job[1:5] == ["scheduler", "jobs", "describe", "shop-nightly"]
    verb = "update" if job_exists else "create"
    assert job[1:6] == ["scheduler", "jobs", verb, "http", "shop-nightly"]

    job_flags = flags(job)
    assert job_flags["uri"] == "https://shop-web-123456789.europe-west1.run.app/tasks/run/"
    assert job_flags["http-method"] == "post"
    assert job_flags["oidc-service-account-email"] == REQUIRED["_SCHEDULER_SA"]
    assert job_flags["oidc-token-audience"] == REQUIRED["_AUDIENCE"]
    headers = job_flags["update-headers" if job_exists else "headers"]
    assert headers == "Content-Type=application/json"
    body = json.loads(job_flags["message-body"])
    settings = example_settings({})
    assert body["queue_name"] in settings["TASKS"]["default"]["OPTIONS"]["trigger_queues"]
    assert 'path("tasks/", include("django_tasks_temporal.urls"))' in (
        ROOT / "example" / "exampleproject" / "urls.py"
    ).read_text()


def test_cloudbuild_pubsub_subscription_is_optional(deploy: Any) -> None:
    assert deploy("pubsub") == []  # no _PUBSUB_TOPIC: no gcloud call at all


@pytest.mark.parametrize("exists", [False, True])
def test_cloudbuild_creates_or_updates_the_pubsub_subscription(deploy: Any, exists: bool) -> None:
    pusher = "pusher@my-project.iam.gserviceaccount.com"
    calls = deploy("pubsub", job_exists=exists, _PUBSUB_TOPIC="stock-checks", _PUBSUB_SA=pusher)
    describe_service, describe_subscription, subscription = calls
    assert describe_service[1:5] == ["run", "services", "describe", "shop-web"]
    assert describe_subscription[1:5] == ["pubsub", "subscriptions", "describe", "shop-stock-check"]
    verb = "update" if exists else "create"
    assert subscription[1:5] == ["pubsub", "subscriptions", verb, "shop-stock-check"]
    push = flags(subscription)
    assert ("topic" in push) is not exists and push.get("topic", "stock-checks") == "stock-checks"
    url = push["push-endpoint"]
    assert url.startswith("https://shop-web-123456789.europe-west1.run.app/tasks/enqueue/")
    assert push["push-auth-service-account"] == pusher
    assert push["push-auth-token-audience"] == REQUIRED["_AUDIENCE"]
    # The endpoint's name is declared in the example, for Pub/Sub push envelopes.
    name = url.rstrip("/").rsplit("/", 1)[1]
    declared = example_settings({})["TASKS_API_ENQUEUE"][name]
    assert declared["format"] in ("pubsub", "auto")
    # Pub/Sub's acknowledgement deadline leaves the endpoint its start_timeout.
    assert int(push["ack-deadline"]) > declared.get("start_timeout", 5)


# --- the deployment chapter (docs/deployment.md) and the pages it links to --------------


def test_deployment_docs_name_every_substitution_step_and_recipe(
    cloudbuild: dict[str, Any],
) -> None:
    docs = "\n".join(
        (ROOT / "docs" / page).read_text()
        for page in ("deployment.md", "http.md", "configuration.md", "development.md")
    )
    for name in cloudbuild["substitutions"]:
        assert f"`{name}`" in docs, name
    for s in cloudbuild["steps"]:
        assert f"`{s['id']}`" in docs, s["id"]
    justfile = (ROOT / "justfile").read_text()
    for recipe in ("infra-up", "infra-down", "infra-manage", "image", "deploy-check",
                   "cloud-deploy"):
        assert re.search(rf"^{recipe}\b", justfile, re.M), recipe
        assert f"just {recipe}" in docs, recipe
    submit = re.search(r"gcloud builds submit[^`]*?(?=\n```)", docs, re.S)
    assert submit, "the gcloud builds submit command"
    for name in cloudbuild["substitutions"]:
        assert f"{name}=" in submit[0], name
    assert "--headers=Content-Type=application/json" in docs
    for option in ("api_key", "tls", "server_root_ca_cert", "client_cert", "client_private_key"):
        assert f"`{option}`" in docs or f'"{option}"' in docs, option
    assert "matching.numTaskqueueReadPartitions" in docs


# --- metrics, health and the burst worker ------------------------------------------------


def bind_flag(command: list[str], flag: str) -> tuple[str, int]:
    from django_tasks_temporal.options import parse_bind_address

    return parse_bind_address(command[command.index(flag) + 1])


def test_compose_worker_serves_metrics_to_prometheus_and_a_health_check(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    command = services["worker"]["command"]
    host, metrics_port = bind_flag(command, "--metrics-bind")
    assert host == "0.0.0.0"  # reachable from the prometheus container, published nowhere
    _, health_port = bind_flag(command, "--health-bind")
    probe = " ".join(services["worker"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{health_port}/healthz" in probe

    prometheus = services["prometheus"]
    source, target = prometheus["volumes"][0].split(":")[:2]
    config_file = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = Path(config_file.split("=", 1)[1])
    assert config_path.parent == Path(target)
    config = yaml.safe_load((ROOT / source / config_path.name).read_text())
    targets = [t for job in config["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]
    assert targets == [f"worker:{metrics_port}"]
    assert "worker" in prometheus["depends_on"]


def grafana_mount(compose: dict[str, Any], target: str) -> Path:
    for volume in compose["services"]["grafana"]["volumes"]:
        source, mounted = volume.split(":")[:2]
        if mounted == target:
            return ROOT / source
    raise AssertionError(f"nothing mounted at {target}")


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(
    compose: dict[str, Any],
) -> None:
    from django_tasks_temporal import metrics
    from django_tasks_temporal.payloads import ATTEMPTS_LOST_METRIC

    provisioning = grafana_mount(compose, "/etc/grafana/provisioning")
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    prometheus_port = container_port(compose["services"]["prometheus"]["ports"][0])
    assert source["url"] == f"http://prometheus:{prometheus_port}" and source["isDefault"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())[
        "providers"
    ]
    dashboards = grafana_mount(compose, provider["options"]["path"])
    dashboard = json.loads((dashboards / "django-tasks-temporal.json").read_text())
    grafana_env = compose["services"]["grafana"]["environment"]
    home = grafana_env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).parent == Path(provider["options"]["path"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert all(t["datasource"]["uid"] == source["uid"] for p in dashboard["panels"]
               for t in p["targets"])
    used = set(re.findall(r"\b((?:django_tasks|temporal)_[a-z_]+)", " ".join(exprs)))
    ours = {metrics.ATTEMPTS_STARTED, metrics.ATTEMPTS_FINISHED, metrics.ATTEMPT_DURATION,
            metrics.QUEUE_WAIT, ATTEMPTS_LOST_METRIC}
    backend_series = {name for name in used if name.startswith("django_tasks_")}
    # Every backend series on the dashboard exists (counters end in _total on /metrics).
    assert {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in backend_series} <= ours
    assert {metrics.ATTEMPTS_FINISHED, metrics.QUEUE_WAIT, metrics.ATTEMPT_DURATION,
            ATTEMPTS_LOST_METRIC} <= {re.sub(r"_(total|bucket)$", "", n) for n in used}
    assert any(name.startswith("temporal_") for name in used)  # the SDK's, beside ours


def test_cloudbuild_can_deploy_the_worker_as_a_scheduled_burst_job(
    cloudbuild: dict[str, Any], deploy: Any
) -> None:
    calls = deploy("deploy-worker", _WORKER_MODE="job")
    job, describe, schedule = calls
    assert job[1:5] == ["run", "jobs", "deploy", "shop-worker-job"]
    job_flags = flags(job)
    assert job_flags["command"] == "python"
    args = job_flags["args"].split(",")
    assert args[:2] == ["manage.py", "run_temporal_worker"]
    assert "--burst" in args
    assert served_queues(args) == queues_a_worker_must_serve()
    (runtime,) = [a.split("=")[1] for a in args if a.startswith("--max-runtime=")]
    (grace,) = [a.split("=")[1] for a in args if a.startswith("--shutdown-timeout=")]
    # The burst ends before the task timeout, and hands tasks over within Cloud Run's 10 s.
    assert float(runtime) + 10 < seconds(job_flags["task-timeout"]) and float(grace) < 10
    assert job_flags["max-retries"] == "0"
    assert {"env-vars-file", "set-secrets", "service-account"} <= set(job_flags)

    assert describe[1:5] == ["scheduler", "jobs", "describe", "shop-worker-job"]
    assert schedule[1:6] == ["scheduler", "jobs", "create", "http", "shop-worker-job"]
    schedule_flags = flags(schedule)
    assert schedule_flags["uri"] == (
        "https://run.googleapis.com/v2/projects/my-project/locations/europe-west1/"
        "jobs/shop-worker-job:run"
    )
    assert schedule_flags["http-method"] == "post"
    assert schedule_flags["oauth-service-account-email"] == REQUIRED["_SCHEDULER_SA"]
    assert schedule_flags["schedule"] == cloudbuild["substitutions"]["_WORKER_JOB_SCHEDULE"]

    updated = deploy("deploy-worker", _WORKER_MODE="job", job_exists=True)
    assert updated[2][1:6] == ["scheduler", "jobs", "update", "http", "shop-worker-job"]


def test_cloudbuild_refuses_an_unknown_worker_mode(
    cloudbuild: dict[str, Any], tmp_path: Path
) -> None:
    env = substitutions(cloudbuild, _WORKER_MODE="pool")
    run_step(cloudbuild, "config", tmp_path, env)
    result = run_step(cloudbuild, "deploy-worker", tmp_path, env)
    assert result.returncode == 2
    assert "_WORKER_MODE must be service or job, got 'pool'." in result.stderr
