"""A real SMTP server in the test process (aiosmtpd), recording what it accepted."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


class Recorder:
    """aiosmtpd handler: keeps every accepted message; `fail` > 0 refuses that many."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], Message]] = []
        self.fail = 0

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:
        with self.lock:
            if self.fail > 0:
                self.fail -= 1
                return "451 4.3.0 try again later"
            parsed = email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def received(self) -> list[tuple[list[str], Message]]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[list[str], Message]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received())} messages received, expected {count}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
