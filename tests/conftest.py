from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests import pg

ROOT = Path(__file__).resolve().parent.parent
#: Variables a subprocess may inherit; everything djcfg-env reads is passed explicitly.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for a subprocess: no DATABASE_URL* leaks in from outside."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env["PYTHONPATH"] = str(ROOT / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run(
    args: list[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (``python`` means this interpreter) with a clean environment."""
    if args and args[0] == "python":
        args = [sys.executable, *args[1:]]
    return subprocess.run(
        args, env=clean_env(env), cwd=cwd or ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


@pytest.fixture
def postgres() -> Iterator[pg.PostgresDatabases]:
    """Real PostgreSQL databases made for this test and dropped after it."""
    pg.require_postgres()
    databases = pg.PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


def pytest_report_header(config: pytest.Config) -> str:
    reason = pg.unavailable_reason()
    if reason is None:
        return f"postgres: {pg.ADMIN_URL.split('@')[-1]} (databases prefixed {pg.RUN_PREFIX})"
    required = " [required: DJCFG_REQUIRE_POSTGRES=1]" if pg.REQUIRED else ""
    return f"postgres: unavailable, PostgreSQL tests will skip: {reason}{required}"


# -- MySQL/MariaDB (tests/mysql.py) ---------------------------------------------------------
from tests import mysql  # noqa: E402


@pytest.fixture
def mariadb() -> Iterator[mysql.MySQLDatabases]:
    """Real MySQL/MariaDB databases made for this test and dropped after it."""
    mysql.require_mysql()
    databases = mysql.MySQLDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.hookimpl(specname="pytest_report_header")
def pytest_report_header_mysql(config: pytest.Config) -> str:
    reason = mysql.unavailable_reason()
    if reason is None:
        where = mysql.ADMIN_URL.split("@")[-1]
        return f"mysql: {where}, {mysql.server_version()} (databases prefixed {pg.RUN_PREFIX})"
    required = " [required: DJCFG_REQUIRE_MYSQL=1]" if mysql.REQUIRED else ""
    return f"mysql: unavailable, MySQL/MariaDB tests will skip: {reason}{required}"
