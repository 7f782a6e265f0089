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

# The demo: a Temporal dev server, a worker and real tasks (no Docker).
demo:
    uv run python example/demo.py

# Benchmarks: this backend against the raw temporalio SDK.
bench *args:
    uv run python bench/run.py "$@"

# Refresh the admin screenshots in docs/ (a real browser against a live server).
screenshots:
    SAVE_SCREENSHOTS=1 uv run pytest tests/test_admin_browser.py -k operator -q

# A worker for the example project (pair with `just devserver`).
worker *args:
    cd example && uv run python manage.py run_temporal_worker "$@"

# A Temporal dev server in the foreground, state in .demo/, Web UI on ui_port.
devserver port="7233" ui_port="8233":
    mkdir -p .demo
    uv run python -c 'import os, sys; from django_tasks_temporal.devserver import start_dev_server_command as command; argv = command(int(sys.argv[1]), sys.argv[2], ui_port=int(sys.argv[3])); print(" ".join(argv), flush=True); os.execv(argv[0], argv)' "{{ port }}" .demo/devserver.db "{{ ui_port }}"

# The OpenAPI schema (arrives with the HTTP trigger service).
schema:
    @echo "Nothing to generate yet: the OpenAPI schema arrives with the HTTP trigger service."

# A production-like stack with Docker (docker-compose.yml).
infra-up:
    docker compose up -d

# Stop the stack started by infra-up.
infra-down:
    docker compose down
