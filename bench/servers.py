"""Benchmark servers and load: processes started in their own process group and always
killed in `finally`, gunicorn's command line, the `wrk` load generator (Debian
package `wrk`) and the parsing of its output, plain HTTP calls."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

# ---- servers ------------------------------------------------------------------------------


class Server:
    """A process group started here; `stop()` ends the whole group (gunicorn and its
    workers), SIGTERM then SIGKILL. Use as a context manager so it always ends."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        port: int | None,
        ready_path: str = "/",
        log_dir: str | None = None,
        cwd: str | Path = ROOT,
    ):
        self.name = name
        self.port = port
        self.ready_path = ready_path
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=str(cwd),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=5) as r:
                    r.read()
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Anything left in the group (a worker that outlived its arbiter).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


GUNICORN_WORKERS = 2


def gunicorn_argv(gunicorn: str | Path, target: str, port: int) -> list[str]:
    """The same gunicorn settings for every server: 2 sync workers, no access log."""
    return [
        str(gunicorn),
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--log-level",
        "warning",
        target,
    ]


# ---- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    label: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    raw: str

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and not self.socket_errors


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]


def parse_wrk(label: str, out: str) -> WrkResult:
    def pct(p: str) -> float:
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return _ms(*m.groups()) if m else float("nan")

    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    requests = int(m.group(1)) if m else 0
    seconds = _ms(m.group(2), m.group(3)) / 1e3 if m else float("nan")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:\s+(.*)", out)
    return WrkResult(
        label=label,
        requests=requests,
        seconds=seconds,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=pct("50"),
        p99_ms=pct("99"),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sock.group(1).strip() if sock else "",
        raw=out,
    )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is not installed: `apt-get install -y wrk` (Debian's package)")
    return path


def run_wrk(
    label: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    script: str | None = None,
    headers: Sequence[str] = (),
    timeout_s: int = 10,
) -> WrkResult:
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "--latency",
    ]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30, check=False
    )
    return parse_wrk(label, done.stdout + done.stderr)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(method: str, url: str, body: dict, headers: dict[str, str] | None = None):
    import json

    data = json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
