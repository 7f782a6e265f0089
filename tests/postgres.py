"""A real PostgreSQL server for tests where the database matters (started once, on demand).

PostgreSQL refuses to run as root, and tests run as root in CI: the cluster belongs to
the `postgres` user, in a temporary directory, on a free loopback port, stopped by PID.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from django_tasks_temporal.devserver import die_with_parent, free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise FileNotFoundError(
            f"PostgreSQL's {name!r} was not found; install Debian's postgresql package."
        )
    return found


def _as_postgres() -> None:
    """In the child, before exec: become `postgres` when running as root, and die with
    the test session."""
    die_with_parent()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)


@dataclass
class PostgresServer:
    port: int
    directory: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # "smart" shutdown, by PID
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres(database: str = "tasks") -> PostgresServer:
    directory = tempfile.mkdtemp(prefix="dtt-postgres-")
    data = os.path.join(directory, "data")
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    subprocess.run(
        [_binary("initdb"), "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        preexec_fn=_as_postgres,
        cwd=directory,
    )
    port = free_port()
    process = subprocess.Popen(
        [_binary("postgres"), "-D", data, "-k", directory, "-p", str(port), "-h", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_as_postgres,
        cwd=directory,
    )
    server = PostgresServer(port=port, directory=directory, process=process)
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
            ) as connection:
                connection.execute(f'CREATE DATABASE "{database}"')
            return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                server.stop()
                raise
            time.sleep(0.2)
