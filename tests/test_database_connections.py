"""A worker holds at most one database connection per attempt it can run (issue 10).

Django keeps a connection per thread (CONN_MAX_AGE > 0 keeps it between tasks); the
worker runs sync tasks on exactly `max_concurrent_activities` threads, so that many
connections at most, checked against a real PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from django.tasks import TaskResultStatus

from tests import tasks
from tests.conftest import SUMMARY, wait_finished
from tests.postgres import PostgresServer, start_postgres

SLOTS = 3


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = start_postgres("tasks")
    except FileNotFoundError as e:  # .ci/run installs it; a developer may not have it
        pytest.skip(str(e))
    try:
        yield server
    finally:
        server.stop()


class ConnectionCounter(threading.Thread):
    """Samples how many connections the `tasks` database has, every 20 ms."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.most = 0
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            while not self.done.wait(0.02):
                [(count,)] = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tasks'"
                ).fetchall()
                self.most = max(self.most, count)


@pytest.mark.slow
def test_the_worker_holds_no_more_connections_than_it_runs_attempts(
    backend, spawn_worker, postgres
):
    counter = ConnectionCounter(postgres.port)
    counter.start()
    worker = spawn_worker(
        "--max-concurrent-activities",
        str(SLOTS),
        env={
            "DJANGO_SETTINGS_MODULE": "tests.settings_postgres",
            "POSTGRES_PORT": str(postgres.port),
        },
    )
    ids = [tasks.use_database.enqueue(0.3).id for _ in range(24)]
    results = [wait_finished(backend, i, timeout=60) for i in ids]
    counter.done.set()
    counter.join()
    worker.terminate()
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * len(ids)
    assert 1 <= counter.most <= SLOTS
    SUMMARY.append(
        f"database: 24 tasks on a worker with {SLOTS} slots and CONN_MAX_AGE=60 held at most "
        f"{counter.most} PostgreSQL connections"
    )
