"""A private PostgreSQL server for the fault soak (bench/soak.py): its own data
directory and port on 127.0.0.1, so that stopping and restarting it never touches the
shared server. Always stopped (and the data removed) on exit. The soak's private Redis
is the fault tests' own (tests/support/private_redis.py).

PostgreSQL is PostgreSQL 15's own initdb/pg_ctl (Debian: /usr/lib/postgresql/15/bin),
run as the `postgres` user when started by root (initdb refuses root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("DISCUSS_SOAK_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PrivatePostgres:
    def __init__(self, port: int):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="discuss-soak-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PrivatePostgres:
        options = (
            # fsync=off is safe here: a restart is PostgreSQL's crash, not the machine's
            # (the page cache survives). synchronous_commit stays on: with it off an
            # acknowledged commit can be lost by the immediate stop of a restart.
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
            " -c max_connections=200"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.dir / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop"]),
            capture_output=True,
        )

    def restart(self) -> float:
        """Stop (immediate: as a crash) and start again; returns when it accepts
        connections, with the moment (time.monotonic()) it did."""
        self.stop("immediate")
        self.start()
        while True:
            with contextlib.suppress(psycopg.Error):
                psycopg.connect(self.url(), connect_timeout=1).close()
                return time.monotonic()
            time.sleep(0.02)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
