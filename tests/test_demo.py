"""The README's demo (`make demo` runs docs/demo/run) works as written, from example.env."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

from tests.conftest import ROOT, run


def test_demo_runs_from_example_env_and_puts_each_app_on_its_database(tmp_path: Path) -> None:
    # A copy, so the test never touches the checkout's docs/demo/var.
    shutil.copytree(ROOT / "docs" / "demo", tmp_path / "docs" / "demo", ignore=shutil.ignore_patterns("var", "__pycache__"))
    shutil.copy(ROOT / "example.env", tmp_path / "example.env")
    venv_bin = str(Path(sys.executable).parent)
    result = run(
        ["bash", str(tmp_path / "docs" / "demo" / "run")],
        env={"PATH": f"{venv_bin}:/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "djcfg-env: OK: 4 databases (default, analytics, blog_db, shop_db), 3 routes, 1 read-only (analytics)." in out
    assert "blog -> blog_db  (DB_ROUTE_BLOG)" in out
    assert "post.author.username      -> 'ada'" in out
    assert "ada.blog_posts.all()      -> ['Hello from blog_db']" in out
    assert "Signup.objects.create()   -> refused before any SQL:" in out
    assert "'analytics': that alias is read-only" in out
    assert "[analytics] skipped: read-only" in out  # migrate_all never touches it

    var = tmp_path / "docs" / "demo" / "var"

    def tables(name: str) -> set[str]:
        with sqlite3.connect(var / name) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    assert {"auth_user", "django_migrations"} <= tables("default.sqlite3")
    assert "blog_post" not in tables("default.sqlite3")
    assert "blog_post" in tables("blog.sqlite3") and "auth_user" not in tables("blog.sqlite3")
    assert "shop_product" in tables("shop.sqlite3") and "blog_post" not in tables("shop.sqlite3")
    with sqlite3.connect(var / "blog.sqlite3") as db:
        assert db.execute("SELECT title FROM blog_post").fetchall() == [("Hello from blog_db",)]
