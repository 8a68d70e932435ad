"""A thread of 10,000 comments imported on PostgreSQL in one save completes.

With psycopg 3.2.12 and later (3.3.x included) the library's pipelined insert of
such a write hung for ever in `Pipeline.sync()`: the server waiting in ClientRead
for the rest of the pipeline, the client for results (reproduced with 3.2.12, 3.2.13,
3.3.0, 3.3.8 and 3.3.9; 3.2.10 and 3.2.11 mostly completed it in ~2.5 s). Big writes
now skip the pipeline (projections/keys.py, PostgresKeyedRecorder). The import runs
in a child process so that a hang fails this test instead of blocking the suite; the
limit is a hang guard, 30x the normal time, not a speed assertion.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from domain.settings import Database

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_SECONDS = 120

IMPORT_10K = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from uuid import NAMESPACE_URL, uuid5

    from domain.imports import ImportedComment, ImportedThread, ThreadImporter
    from domain.settings import Database
    from projections.setup import open_application

    app = open_application(Database.from_url(sys.argv[1]))
    start = datetime(2020, 1, 1, tzinfo=UTC)
    ids = [uuid5(NAMESPACE_URL, f"/big/{i}") for i in range(10_000)]
    comments = [
        ImportedComment(
            comment_id=ids[i],
            parent_id=ids[i // 3] if i % 3 else None,
            author_id=uuid5(NAMESPACE_URL, f"/big/authors/{i % 40}"),
            author_name=f"Reader {i % 40}",
            text=f"comment {i}, " + "words " * 40,
            at=start + timedelta(minutes=i),
        )
        for i in range(10_000)
    ]
    result = ThreadImporter(app).import_thread(
        ImportedThread(key="big/thread", title="Big", at=start, comments=comments)
    )
    print(result.comments_created, result.position)
    app.close()
    """
)


@pytest.mark.postgres
def test_a_10k_comment_thread_is_imported_in_one_save(pg_database: Database):
    try:
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_10K, pg_database.url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the import did not finish in {HANG_GUARD_SECONDS} s (psycopg hang?)")
    assert done.returncode == 0, done.stderr
    created, position = map(int, done.stdout.split())
    assert created == 10_000
    assert position >= 10_000  # every comment's event, and the thread's and authors'
