"""Browser tests: a real server (gunicorn, two worker processes, the embedded SQLite
default with the demo thread loaded by the CLI) driven by Debian's headless Chromium
through Playwright's sync API. Screenshots of the key pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from web.auth import COOKIE_NAME
from workers.seed import DEMO_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("DISCUSS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
THREAD_PATH = f"/t/{DEMO_KEY}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, env: dict[str, str]):
        self.url = url
        self.env = env

    def discuss(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "discuss"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def register(self, name: str, moderator: bool = False) -> str:
        """A token for a new author, registered with the operator's command line."""
        out = self.discuss("register", name, *(["--moderator"] if moderator else []))
        return re.search(r"^token: (\S+)$", out, re.M).group(1)


@contextmanager
def running_server(folder: Path, port: int | None = None, **extra_env: str) -> Iterator[Server]:
    """gunicorn on a fresh SQLite store with the demo thread, `extra_env` added; on
    `port` if given (to name the server's own address in its settings), else a free one."""
    env = {
        **os.environ,
        "DISCUSS_DATABASE_URL": f"sqlite:///{folder}/discuss.db",
        "DISCUSS_SECRET_KEY": "browser-tests-secret",
        "DISCUSS_WRITE_RATE_LIMIT": "10000 per minute",
        **extra_env,
    }
    env.pop("DISCUSS_REDIS_URL", None)
    port = port or _free_port()
    server = Server(f"http://127.0.0.1:{port}", env)
    server.discuss("init-db")
    server.discuss("load-demo")
    log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "web:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.url + THREAD_PATH, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: see {folder / 'gunicorn.log'}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser-server")) as started:
        yield started


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser, server: Server) -> Iterator:
    """Make browser contexts (separate cookie jars: separate people) on the server."""
    made: list[BrowserContext] = []

    def make(token: str | None = None, **options) -> BrowserContext:
        options.setdefault("viewport", {"width": 1200, "height": 900})
        context = browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(10_000)
        if token:
            context.add_cookies(
                [{"name": COOKIE_NAME, "value": token, "url": server.url, "httpOnly": True}]
            )
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context) -> Page:
    return new_context().new_page()


def shot(page: Page, name: str, full_page: bool = False) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Page, name: str, next_path: str = THREAD_PATH) -> None:
    page.goto(f"/signin?next={next_path}")
    page.get_by_role("textbox", name="Display name").fill(name)
    page.get_by_role("button", name="Join the discussion").click()
    # The token is shown once, to save; then on to where the reader was going.
    page.get_by_role("heading", name="Save your token").wait_for()
    page.get_by_role("link", name="I have saved my token").click()
    page.wait_for_url(f"**{next_path}")
    assert page.get_by_text(f"Signed in as {name}").is_visible()


def post_comment(page: Page, text: str) -> str:
    """Post a top-level comment from the thread page; the id of the new comment."""
    page.goto(THREAD_PATH)
    page.locator("#new-comment textarea").fill(text)
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_url(re.compile(r".*#c-[0-9a-f-]+$"))
    return page.url.rsplit("#c-", 1)[1]
