"""Fault tests: private Redis servers, the Procfile's own commands, processes always
ended in `finally`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.private_redis import PrivateRedis
from workers.bootstrap import forget_services

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile_command(name: str) -> str:
    """The command the Procfile runs for `name` (honcho/supervisord run the same)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


class Proc:
    """A command run through the shell (Procfile syntax), in its own process group."""

    def __init__(self, command: str, env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115  (closed in stop())
        path = f"{BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=ROOT,
            env={**env, "PATH": path},
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._out.close()


def eventually(predicate, seconds: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def procs(tmp_path) -> Iterator:
    started: list[Proc] = []

    def start(command: str, env: dict[str, str], name: str = "proc") -> Proc:
        started.append(Proc(command, env, tmp_path / f"{name}-{len(started)}.log"))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()
    forget_services()
