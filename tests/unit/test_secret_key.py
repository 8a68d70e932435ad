"""The generated secret key (var/secret-key beside the SQLite store) is owner-only."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from domain.settings import Database, Settings
from web.config import _secret_key, secret_key


@pytest.fixture
def store(tmp_path: Path, monkeypatch) -> Database:
    monkeypatch.delenv("DISCUSS_SECRET_KEY", raising=False)
    return Database.from_url(f"sqlite:///{tmp_path}/var/discuss.db")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: the file mode must not depend on the umask."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_the_key_file_is_created_0600_whatever_the_umask(store, open_umask):
    key = _secret_key(store)
    path = Path(store.path).parent / "secret-key"
    assert mode_of(path) == 0o600
    assert len(key) == 64 and int(key, 16) >= 0
    assert path.read_text() == key
    assert _secret_key(store) == key, "the key is generated once and then kept"
    assert secret_key(Settings.from_env(database=store)) == key


def test_a_world_readable_key_file_left_by_an_older_version_is_narrowed(store):
    path = Path(store.path).parent / "secret-key"
    path.parent.mkdir(parents=True)
    path.write_text("an-old-key\n")
    path.chmod(0o644)
    assert _secret_key(store) == "an-old-key"
    assert mode_of(path) == 0o600


def test_processes_starting_together_all_read_the_one_key(store):
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(_secret_key(store))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and keys[0]


def test_the_environment_variable_wins_and_writes_nothing(store, monkeypatch):
    monkeypatch.setenv("DISCUSS_SECRET_KEY", "from-the-environment")
    assert secret_key(Settings.from_env(database=store)) == "from-the-environment"
    assert not (Path(store.path).parent / "secret-key").exists()
