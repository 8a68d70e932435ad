"""The fault soak, short (bench/soak.py): 4 clients for 12 s against the scaled
mode on private PostgreSQL and Redis servers, with a catch-up worker killed -9 and
Redis stopped for a few seconds. Integrity only (nothing about timing): every
acknowledged write is in the log and in the read models, none twice, a rebuild gives
identical tables, `verify` passes, and no process exited on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.faults.conftest import ROOT

pytestmark = pytest.mark.postgres


def test_the_short_soak_keeps_integrity():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--clients",
            "4",
            "--duration",
            "12",
            "--faults",
            "kill-worker@3,redis-stop@5+4",
            "--json",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["acknowledged"] > 0
    assert figures["lost"] == 0
    assert figures["missing_or_wrong"] == 0
    assert figures["duplicates"] == 0
    assert figures["rebuild_equal"] is True
    assert figures["verify"] is True
    assert figures["exited_on_their_own"] == {}
