# syntax=docker/dockerfile:1
# The example shop in one image: the web app (gunicorn, the default command) and the
# Temporal worker (`python manage.py run_temporal_worker`) both run from it. Used by
# docker-compose.yml (`just infra-up`) and cloudbuild.yaml (Cloud Run); `just image` builds it.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: the project and exactly the dependencies uv.lock pins, into /opt/venv ----------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --root-user-action=ignore "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=python3.12 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src
# Third-party dependencies first, so this layer is reused while only the code changes.
# --locked fails the build when uv.lock is out of date with pyproject.toml.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --group deploy --no-install-project
COPY pyproject.toml uv.lock README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --group deploy --no-editable

# --- runtime: the virtualenv and the example project, run as an unprivileged user -------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY example/ ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=exampleproject.settings \
    PORT=8000
# The admin's CSS and JS, served by whitenoise from the image (see exampleproject/wsgi.py).
RUN python manage.py collectstatic --noinput --verbosity 0
USER 10001:10001
EXPOSE 8000
# gunicorn binds 0.0.0.0:$PORT (Cloud Run sets PORT). The Temporal client runs on a background
# thread, which a fork does not copy: workers load the app after forking (no --preload).
# --forwarded-allow-ips trusts X-Forwarded-Proto from the proxy in front (Cloud Run), so
# that Django sees HTTPS and its CSRF origin check passes on the admin's login form.
CMD ["gunicorn", "exampleproject.wsgi", "--workers=2", "--threads=4", "--forwarded-allow-ips=*", "--access-logfile=-"]
