"""The repository's Procfile: its release line runs migrate_all on the demo with example.env.

Runs ``honcho start release`` in a copy of the demo tree (so the repository's
docs/demo/var is never touched), with the real Procfile and example.env.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

pytest.importorskip("honcho", reason="honcho is in the test extra: pip install -e '.[test]'")


def _tree(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "docs" / "demo", project / "docs" / "demo",
        ignore=shutil.ignore_patterns("var", "__pycache__"),
    )
    (project / "docs" / "demo" / "var").mkdir()
    for name in ("Procfile", "example.env"):
        shutil.copy(ROOT / name, project / name)
    return project


def test_procfile_lines() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "release: python docs/demo/manage.py migrate_all --noinput" in lines
    assert "web: python docs/demo/manage.py runserver 0.0.0.0:${PORT:-8000}" in lines


def test_release_line_migrates_the_demo_with_honcho(tmp_path: Path) -> None:
    project = _tree(tmp_path)
    honcho = [sys.executable, "-m", "honcho", "-e", "example.env", "start", "release"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    first = run(honcho, env=env, cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "migrate_all: ok: 3 migrated, 1 skipped (read-only)" in first.stdout
    assert "[analytics] skipped: read-only" in first.stdout
    with sqlite3.connect(project / "docs" / "demo" / "var" / "blog.sqlite3") as conn:
        blog = conn.execute("SELECT count(*) FROM django_migrations WHERE app = 'blog'").fetchone()
    assert blog[0] >= 1

    again = run(honcho, env=env, cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "migrate_all: ok: 3 up to date, 1 skipped (read-only)" in again.stdout
