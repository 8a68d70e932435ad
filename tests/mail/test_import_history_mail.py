"""Importing a history into a new store sends nothing: its old store sent its mails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from domain.settings import Database, Settings
from projections.setup import initialise
from tests.mail.conftest import thread_with_comment
from workers.bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[2]
DISCUSS = str(Path(sys.executable).with_name("discuss"))


def test_imported_history_is_not_mailed_again(services, smtp, database, tmp_path):
    app = services.app
    _, thread, alice, posted = thread_with_comment(app)
    app.add_email_address(alice.author_id, "alice@example.org")
    app.set_notifications(alice.author_id, replies=True, digest=False)
    bob = app.register_author("bob")
    app.post_comment(bob.author_id, thread.thread_id, "hi", parent_id=posted.comment_id)
    env = {**os.environ, "DISCUSS_SMTP_URL": smtp.url}
    dump = tmp_path / "all.jsonl"
    exported = subprocess.run(
        [DISCUSS, "export", "--open", "-o", str(dump)],
        cwd=ROOT,
        env={**env, "DISCUSS_DATABASE_URL": database.url},
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    target = Database.from_url(f"sqlite:///{tmp_path}/new/discuss.db")
    initialise(target)
    imported = subprocess.run(
        [DISCUSS, "import-history", str(dump)],
        cwd=ROOT,
        env={**env, "DISCUSS_DATABASE_URL": target.url},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    fresh = bootstrap(Settings.from_env(database=target, smtp_url=smtp.url))
    try:
        (status,) = [s for s in fresh.outbox.status() if s["channel"] == "mail"]
        assert status["position"] == fresh.app.head_position() > 0
        assert status["pending"] == status["sent"] == 0
    finally:
        fresh.close()
    assert smtp.recorder.received() == []
