"""Architecture and lint checks on the whole repository.

import-linter checks the contracts of pyproject.toml ([tool.importlinter]). To show the
check can fail, the same contracts are also run against a copy of the packages into
which forbidden imports were injected: every contract must then be reported broken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ("domain", "projections", "workers", "web")
CONTRACTS = (
    "Layers: web -> workers -> projections -> domain",
    "The domain knows nothing of Flask, RQ, Redis or marshmallow",
    "Projections know nothing of Flask, RQ or marshmallow",
)
# Settings are read from the environment in one module only (domain/settings.py): each
# entry point reads them once and passes them down.
SETTINGS_MODULE = Path("domain/settings.py")
ENVIRONMENT_READ = re.compile(r"\bos\.environ\b|\bgetenv\b|\bfrom os import\b.*\benviron\b")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in CONTRACTS:
        assert f"{name} KEPT" in output, output
    assert " 0 broken" in output, output


def test_import_contracts_catch_forbidden_imports(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    inject = {
        "domain/rules.py": "import flask  # injected by the test\n",
        "domain/tokens.py": "import workers.seed  # injected by the test\n",
        "projections/registry.py": "import marshmallow  # injected by the test\n",
    }
    for path, line in inject.items():
        with (tmp_path / path).open("a", encoding="utf-8") as file:
            file.write("\n" + line)

    result = lint_imports(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    for name in CONTRACTS:
        assert f"{name} BROKEN" in output, output
    assert "domain.rules -> flask" in output, output
    assert "domain.tokens -> workers.seed" in output, output
    assert "projections.registry -> marshmallow" in output, output


def test_ruff_check_passes_on_the_whole_repository():
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_runs_no_sql_of_its_own():
    """Every read the web makes goes through named queries in projections/: no web module
    opens a store reader or a transaction, or writes a statement."""
    pattern = re.compile(r"\.store\.(reader|transaction)\(|\.execute\(|\bSELECT\b")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "web").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], "SQL in the web layer:\n" + "\n".join(offenders)


def environment_reads(root: Path) -> list[str]:
    """`path:line: text` of every line of the packages that reads the environment,
    outside domain/settings.py."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if relative == SETTINGS_MODULE:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ENVIRONMENT_READ.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_only_the_settings_module_reads_the_environment():
    assert environment_reads(ROOT) == []


def test_the_environment_check_catches_a_read(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "domain" / "settings.py").write_text("import os\nos.environ.get('X')\n")
    (tmp_path / "web" / "a.py").write_text("import os\nos.environ.setdefault('X', '1')\n")
    (tmp_path / "workers" / "b.py").write_text("from os import getenv\n")
    (tmp_path / "projections" / "c.py").write_text("value = request.environ.get('X')\n")
    assert environment_reads(tmp_path) == [
        "workers/b.py:1: from os import getenv",
        "web/a.py:2: os.environ.setdefault('X', '1')",
    ]
