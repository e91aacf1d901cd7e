"""JupyterLab servers for the browser tests: started with :mod:`mlcasebook.lab`'s command lines on temporary
folders, in their own process group, and stopped with their kernels."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SERVER_START_TIMEOUT = 180  # seconds: JupyterLab's first start builds nothing but is slow on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: its root folder, URL, token and process."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/lab") -> str:
        return f"{self.base}{path}?token={self.token}"

    @property
    def progress_file(self) -> Path:
        """The progress history ``%check`` appends to (``MLCASEBOOK_PROGRESS``, see :func:`isolated_env`)."""
        return self.log.parent / "progress.jsonl"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()


def jupyter_args(port: int, token: str) -> list[str]:
    return ["--no-browser", f"--port={port}", f"--ServerApp.token={token}", "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1"]


def start_lab(argv: list[str], env: dict[str, str], root: Path, port: int, token: str, log: Path) -> Lab:
    """Start JupyterLab in its own process group and wait until /lab answers 200."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    lab = Lab(root, port, token, process, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(lab.url("/lab"), timeout=10) as response:
                if response.status == 200:
                    return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise RuntimeError(f"JupyterLab did not answer on /lab within {SERVER_START_TIMEOUT} s:\n{lab.log_tail()}")
        time.sleep(0.5)


def stop_lab(lab: Lab) -> None:
    """Shut the kernels down through the API, then end JupyterLab's process group (TERM, then KILL)."""
    try:
        _, body = lab.api("/api/kernels")
        for kernel in json.loads(body):
            lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
    except (OSError, ValueError):
        pass
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(lab.process.pid, sig)
        except ProcessLookupError:
            break
        try:
            lab.process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def isolated_env(env: dict[str, str], scratch: Path) -> dict[str, str]:
    """The launcher's environment, with JupyterLab's saved layout and user settings and the progress history
    kept in ``scratch`` so a developer's own lab state neither leaks into the test nor is touched by it."""
    env = dict(env)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(scratch / "lab-workspaces")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(scratch / "lab-settings")
    env["MLCASEBOOK_PROGRESS"] = str(scratch / "progress.jsonl")
    return env


def keep_log(lab: Lab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(lab.log, ARTIFACTS / name)


@contextlib.contextmanager
def serving(command: Callable[[Path, list[str]], tuple[list[str], dict[str, str]]], root: Path, scratch: Path,
            log_name: str) -> Iterator[Lab]:
    """JupyterLab from one of :mod:`mlcasebook.lab`'s commands on ``root``, for the ``with`` block; its log is
    kept as an artefact named ``log_name``."""
    port, token = free_port(), secrets.token_hex(16)
    argv, env = command(root, jupyter_args(port, token))
    running = start_lab(argv, isolated_env(env, scratch), root, port, token, scratch / "jupyter.log")
    try:
        yield running
    finally:
        stop_lab(running)
        keep_log(running, log_name)
