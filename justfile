# One way to run things: developers, the README and CI (.ci/run) all use these recipes.
# Install the runner once with `pip install uv rust-just`; `just` lists the recipes.

set positional-arguments

# List the recipes.
default:
    @just --list

# Install the project and its dev tools into .venv.
sync:
    uv sync

# Run the tests on an embedded Temporal dev server; args go to pytest.
test *args:
    uv run pytest "$@"

# Lint and type-check.
lint:
    uv run ruff check .
    uv run mypy

# Build the documentation site into docs/_build/html; a warning or a broken internal link
# (page or heading anchor) fails it. External links are not checked (no internet here).
docs:
    uv run sphinx-build -W --keep-going -n -q -b html docs docs/_build/html
    @echo "Documentation: docs/_build/html/index.html"

# The demo: a Temporal dev server, a worker and real tasks (no Docker).
demo:
    uv run python example/demo.py

# Benchmarks: this backend against the raw temporalio SDK.
bench *args:
    uv run python bench/run.py "$@"

# Benchmark: a sync of 100 declared schedules with nothing changed (its time and Temporal calls).
bench-schedules *args:
    uv run python bench/schedules.py "$@"

# Burst mode, measured: a 200-task backlog drained by --burst, and 20 runs' exit codes.
bench-burst *args:
    uv run python bench/burst.py "$@"

# Refresh the admin screenshots in docs/ (a real browser against a live server).
screenshots:
    SAVE_SCREENSHOTS=1 uv run pytest tests/test_admin_browser.py tests/test_admin_schedules_browser.py -k operator -q

# A worker for the example project (pair with `just devserver`).
worker *args:
    cd example && uv run python manage.py run_temporal_worker "$@"

# A Temporal dev server in the foreground (Ctrl-C stops it), state in .demo/, Web UI on ui_port.
devserver port="7233" ui_port="8233":
    uv run python -m django_tasks_temporal devserver --port "{{ port }}" --ui-port "{{ ui_port }}" --db-filename .demo/devserver.db

# Regenerate openapi/schema.yaml (drf-spectacular, validated, warnings are errors).
schema:
    mkdir -p openapi
    cd example && uv run python manage.py spectacular --validate --fail-on-warn --file ../openapi/schema.yaml

# Temporal on PostgreSQL, its UI, the example web app and a worker (docs/deployment.md).
# A production-like stack with Docker (docker-compose.yml); waits until it is up.
infra-up:
    docker compose up --detach --build --wait
    @echo "Shop: http://127.0.0.1:8000/admin/  Temporal UI: http://127.0.0.1:8080/  gRPC: 127.0.0.1:7233"
    @echo "Admin user: just infra-manage createsuperuser"

# Stop the stack started by infra-up (`just infra-down -v` also deletes its databases).
infra-down *args:
    docker compose down "$@"

# A manage.py command in the stack's web container, e.g. `just infra-manage createsuperuser`.
infra-manage *args:
    docker compose exec web python manage.py "$@"

# Follow the stack's logs (all services, or the ones named, e.g. `just infra-logs worker`).
infra-logs *args:
    docker compose logs --follow "$@"

# Build the example project's image (web and worker), as Cloud Build does.
image tag="django-tasks-temporal-example:latest":
    docker build --tag "{{ tag }}" .

# Check the deployment files offline: Dockerfile, docker-compose.yml, cloudbuild.yaml.
deploy-check:
    uv run pytest tests/test_deployment.py -q

# e.g. --substitutions=_TEMPORAL_TARGET_HOST=...,_AUDIENCE=...,_SCHEDULER_SA=...,_RUNTIME_SA=...
# Test, build and deploy to Cloud Run with Cloud Build; args go to `gcloud builds submit`.
cloud-deploy *args:
    gcloud builds submit --config cloudbuild.yaml "$@" .
