"""One projection runner per store on the embedded default (SQLite): the web processes
elect one, the others only nudge it.

Every web process used to run its own runner thread, and on each write all of them
raced for the read models' write lock to apply the same events. Now each process's
runner first takes an OS file lock beside the store (`<store>-runner.lock`, flock):
the one that holds it runs the projections; the others leave their runner idle and,
after a write, nudge the holder with a datagram on a Unix socket named after the store
(Linux's abstract namespace: no file to clean up after a crash). The lock dies with
its process, so when the holder is killed (even with SIGKILL) another process's lease
thread, retrying every TAKEOVER_POLL seconds, takes it over, catches up at once and
goes on. Read-your-writes stays exact: `wait_for` reads the tracking positions the
holder writes, whichever process asks.

PostgreSQL stores keep a runner per process (several machines share one store: a
file lock cannot elect among them); scaled out, RQ workers do the catching up.

Written here rather than taken from a library: it is a flock and a socket, and the
runner it starts and nudges is the project's own (workers/runner.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
from pathlib import Path

from domain.settings import Database
from projections.engine import Engine
from workers.runner import BackgroundRunner

log = logging.getLogger(__name__)

TAKEOVER_POLL = 0.2  # seconds between a follower's tries for the lock
LISTEN_TIMEOUT = 0.2  # how often the holder's listener looks whether to stop


def lock_path(database: Database) -> Path:
    return Path(f"{database.path}-runner.lock")


def nudge_address(database: Database) -> str:
    """The holder's socket: abstract (leading NUL), named after the store's real path."""
    digest = hashlib.sha256(os.path.realpath(database.path).encode()).hexdigest()[:32]
    return f"\0discuss-runner-{digest}"


class ElectedRunner:
    """A BackgroundRunner that runs only while its process holds the store's runner
    lock; `nudge()` wakes the holder, here or in another process."""

    def __init__(self, runner: BackgroundRunner, database: Database):
        self.runner = runner
        self.lock_path = lock_path(database)
        self.address = nudge_address(database)
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)

    @property
    def engine(self) -> Engine:
        return self.runner.engine

    @property
    def failures(self) -> dict[str, str]:
        return self.runner.failures

    @property
    def on_applied(self) -> list:
        """Listeners called after the runner applied events (the live updates' hub).
        Only the holder's runner applies, so in the other processes they are not
        called: the hub's own poll of the positions covers those."""
        return self.runner.on_applied

    def run_once(self) -> int:
        """One catch-up pass in this process, leader or not (before serving)."""
        return self.runner.run_once()

    def start(self) -> ElectedRunner:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._lease, name="runner-lease", daemon=True)
            self._thread.start()
        return self

    def nudge(self) -> None:
        if self.leading:
            self.runner.nudge()
            return
        # No holder right now: the next one catches up as it takes over.
        with contextlib.suppress(OSError):
            self._sender.sendto(b"!", self.address)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.runner.stop(timeout)
        self._sender.close()

    def _lease(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if self._acquire(fd):
                self._lead()
        except Exception:
            log.exception("projection runner election failed; this process stops running")
        finally:
            if self.leading:
                self.runner.stop()  # before the lock goes: one runner at a time
            self.leading = False
            os.close(fd)  # releases the lock: another process takes over

    def _acquire(self, fd: int) -> bool:
        while not self._stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                self._stop.wait(TAKEOVER_POLL)
        return False

    def _lead(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
            listener.bind(self.address)
            listener.settimeout(LISTEN_TIMEOUT)
            self.leading = True
            log.info("this process runs the projections (pid %s)", os.getpid())
            self.runner.start()  # catches up at once
            while not self._stop.is_set():
                try:
                    listener.recv(64)
                except TimeoutError:
                    continue
                self.runner.nudge()


def embedded_runner(
    engine: Engine, database: Database, interval: float
) -> BackgroundRunner | ElectedRunner:
    """The embedded runner for a web process: elected on SQLite, its own elsewhere."""
    runner = BackgroundRunner(engine, interval=interval)
    return ElectedRunner(runner, database) if database.backend == "sqlite" else runner
