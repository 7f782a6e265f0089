"""The README's quick start, pasted into a brand-new project, so that it cannot drift.

Each of its code blocks is marked with an HTML comment (`<!-- quickstart: ... -->`). This
test builds a wheel of the package, installs it with the `devserver` extra into a fresh
virtualenv, runs the set-up block (`django-admin startproject` ...), writes the settings
and tasks blocks into the project, starts the dev server and the worker with the README's
commands, pastes the shell block into `python manage.py shell`, and compares what it
prints with the README's output block. The only changes: the dev server gets free
loopback ports instead of 7233 / 8233 (several runs share a machine), and `target_host`
follows it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from django_tasks_temporal.devserver import free_port

ROOT = Path(__file__).resolve().parent.parent
MARKED_BLOCK = re.compile(r"<!-- quickstart: (?P<label>[^>]+?) -->\n```\w*\n(?P<code>.*?)```", re.S)
DEFAULT_TARGET = "127.0.0.1:7233"



def quickstart_blocks() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    blocks = {m["label"]: m["code"] for m in MARKED_BLOCK.finditer(readme)}
    assert set(blocks) == {
        "setup", "append to mysite/settings.py", "create mysite/tasks.py",
        "terminal 1", "terminal 2", "shell", "output",
    }, sorted(blocks)
    return blocks


def announced_line() -> str:
    """The line the README says the dev server prints, with its whitespace normalised."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    found = re.search(r"It prints one line, `(Temporal dev server: [^`]+)`", readme)
    assert found, "the README quotes the dev server's line"
    return found[1]


class Project:
    """A fresh virtualenv with the built wheel, and the commands the README runs in it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cwd = tmp
        self.venv = tmp / "venv"
        self.processes: list[subprocess.Popen[bytes]] = []
        env = {k: v for k, v in os.environ.items()
               if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["UV_PYTHON_DOWNLOADS"] = "never"
        # What a terminal does: print() lines appear at once, even if the process dies.
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
        return done

    def install_wheel(self, extra: str) -> None:
        dist = self.tmp / "dist"
        self.run(["uv", "build", "--wheel", "--out-dir", str(dist), str(ROOT)])
        [wheel] = dist.glob("*.whl")
        self.run(["uv", "venv", "--python", sys.executable, str(self.venv)])
        self.run(["uv", "pip", "install", "--python", str(self.venv / "bin" / "python"),
                  f"{wheel}[{extra}]"])

    def setup(self, block: str) -> None:
        """Run the set-up block line by line; `pip install` installs the built wheel."""
        for line in block.strip().splitlines():
            argv = shlex.split(line)
            if argv[:2] == ["pip", "install"]:
                [requirement] = argv[2:]
                assert requirement.startswith("django-tasks-temporal["), requirement
                self.install_wheel(requirement.split("[", 1)[1].rstrip("]"))
            elif argv[0] == "cd":
                self.cwd = self.cwd / argv[1]
            else:
                self.run(argv)

    def start(self, command: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as output:
            process = subprocess.Popen(
                shlex.split(command), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """Whatever is still running after a failure: its children first, each by PID."""
        for process in self.processes:
            if process.poll() is None:
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()
                process.kill()
                process.wait()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    project = Project(tmp_path)
    try:
        yield project
    finally:
        project.stop_all()


def wait_for_line(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if re.search(pattern, line):
                return line
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    pytest.fail(f"{pattern!r} not in {log}: {log.read_text()}")


def wait_for_worker(target: str) -> None:
    """Until a worker polls the backend's task queue: a human starts it before the shell."""

    async def polled() -> bool:
        client = await Client.connect(target)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name="django-tasks"),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return bool(response.pollers)

    deadline = time.monotonic() + 120
    while not asyncio.run(polled()):
        assert time.monotonic() < deadline, "no worker polled the task queue"
        time.sleep(0.5)


def test_the_readme_stays_an_introduction() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 15_000, "the reference belongs in docs/"
    # The set-up on a fresh machine is still these two commands.
    assert "pip install uv rust-just && just demo" in readme
    assert "pip install uv rust-just && just test" in readme


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_readme_quick_start_runs_as_written(project: Project) -> None:
    blocks = quickstart_blocks()
    project.setup(blocks["setup"])
    assert (project.cwd / "manage.py").exists()

    port, ui_port = free_port(), free_port()
    settings = blocks["append to mysite/settings.py"]
    assert DEFAULT_TARGET in settings
    with (project.cwd / "mysite" / "settings.py").open("a") as f:
        f.write("\n" + settings.replace(DEFAULT_TARGET, f"127.0.0.1:{port}"))
    tasks_py = project.cwd / "mysite" / "tasks.py"
    assert not tasks_py.exists()
    tasks_py.write_text(blocks["create mysite/tasks.py"])

    [server_command] = blocks["terminal 1"].strip().splitlines()
    server_log = project.tmp / "devserver.log"
    server = project.start(
        f"{server_command} --port {port} --ui-port {ui_port}", server_log
    )
    line = wait_for_line(server_log, r"^Temporal dev server:", server)
    expected = (
        announced_line()
        .replace(":7233", f":{port}")
        .replace(":8233", f":{ui_port}")
        .replace("…/mysite", str(project.cwd))
    )
    assert line == expected

    [worker_command] = blocks["terminal 2"].strip().splitlines()
    worker_log = project.tmp / "worker.log"
    worker = project.start(worker_command, worker_log)
    wait_for_worker(f"127.0.0.1:{port}")

    shell = subprocess.run(
        ["python", "manage.py", "shell"], input=blocks["shell"], cwd=project.cwd,
        env=project.env, capture_output=True, text=True, timeout=120,
    )
    # temporalio can crash while the interpreter shuts down (sdk-python#300), after the
    # snippet ran: the output is what counts here.
    assert shell.returncode in (0, -signal.SIGSEGV), shell.stderr
    printed = [
        line for line in shell.stdout.splitlines()
        if line and not line.endswith("imported automatically (use -v 2 for details).")
    ]
    assert printed == blocks["output"].strip().splitlines(), shell.stdout + shell.stderr

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, worker_log.read_text()
    assert "mysite.tasks.greet" in worker_log.read_text()

    [server_child] = psutil.Process(server.pid).children()
    server.send_signal(signal.SIGINT)  # Ctrl-C
    assert server.wait(timeout=60) == 0, server_log.read_text()
    assert not psutil.pid_exists(server_child.pid)
    assert (project.cwd / ".temporal" / "devserver.db").exists()
