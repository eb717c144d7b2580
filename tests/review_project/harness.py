"""Run tests/review_project through ``manage.py`` subprocesses on SQLite files or PostgreSQL.

Aliases: ``default`` (auth, contenttypes), ``notes_db`` (the notes app) and
``replica`` (read-only; the reports app, unmanaged, its table made here).
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import direct_sql, pg
from tests.conftest import run

PROJECT = Path(__file__).resolve().parent
SECRET_KEY = "review-SECRET-key-Kq81x-never-printed"
REPORTS_TABLE = {
    "sqlite": "CREATE TABLE reports_report (id integer PRIMARY KEY AUTOINCREMENT, "
    "name varchar(100) NOT NULL, total integer NOT NULL DEFAULT 0)",
    "postgresql": "CREATE TABLE reports_report (id bigserial PRIMARY KEY, "
    "name varchar(100) NOT NULL, total integer NOT NULL DEFAULT 0)",
}


@dataclass
class Review:
    """The review project's three databases on one backend."""

    backend: str
    #: alias -> SQLite file path or PostgreSQL database name.
    names: dict[str, str]
    env: dict[str, str]

    def manage(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(["python", "manage.py", *args], env={**self.env, **(env or {})}, cwd=PROJECT)

    def shell(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.manage("shell", "-c", code)

    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on ``alias``'s database directly, without Django (``%s`` placeholders)."""
        return direct_sql.rows(self.backend, self.names[alias], sql, params)

    def migrate(self) -> None:
        """migrate_all, then the read-only alias's table by hand, with one row ('a', 1)."""
        done = self.manage("migrate_all", "-v", "0")
        assert done.returncode == 0, done.stdout + done.stderr
        self.rows("replica", REPORTS_TABLE[self.backend])
        self.rows("replica", "INSERT INTO reports_report (name, total) VALUES ('a', 1)")


def _env(urls: dict[str, str]) -> dict[str, str]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": urls["default"],
        "DATABASE_URL_NOTES_DB": urls["notes_db"],
        "DATABASE_URL_REPLICA": urls["replica"] + "?read_only=true",
        "DB_ROUTE_NOTES": "notes_db",
        "DB_ROUTE_REPORTS": "replica",
    }


def sqlite_review(directory: Path) -> Review:
    names = {alias: str(directory / f"{alias}.sqlite3") for alias in ("default", "notes_db", "replica")}
    for path in names.values():
        sqlite3.connect(path).close()
    return Review("sqlite", names, _env({alias: f"sqlite:///{path}" for alias, path in names.items()}))


def postgres_review(databases: pg.PostgresDatabases) -> Review:
    names = {alias: databases.create(alias) for alias in ("default", "notes_db", "replica")}
    return Review("postgresql", names, _env({alias: databases.url(name) for alias, name in names.items()}))
