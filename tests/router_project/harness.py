"""Databases for the router test project: four SQLite files or four real PostgreSQL databases.

The layout follows the seed guide: ``default`` (auth, contenttypes), ``blog_db``
(blog), ``shop_db`` (shop) and ``analytics``, read-only, holding a table that
another system fills (created here directly, never through Django).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.conftest import run

PROJECT = Path(__file__).resolve().parent
CHECK_PROJECT = PROJECT.parent / "check_projects"
ALIASES = ("default", "blog_db", "shop_db", "analytics")
ROUTES = {"DB_ROUTE_BLOG": "blog_db", "DB_ROUTE_SHOP": "shop_db", "DB_ROUTE_ANALYTICS": "analytics"}
_EVENT_TABLE = {
    "sqlite": "CREATE TABLE analytics_event (id integer PRIMARY KEY AUTOINCREMENT, "
    "name varchar(100) NOT NULL, user_id integer NULL)",
    "postgres": "CREATE TABLE analytics_event (id serial PRIMARY KEY, "
    "name varchar(100) NOT NULL, user_id integer NULL)",
}


@dataclass
class Databases:
    """The four databases of one test, their environment, and direct (non-Django) access."""

    backend: str
    env: dict[str, str]
    #: alias -> SQLite path or PostgreSQL database name.
    names: dict[str, str] = field(default_factory=dict)

    def sql(self, alias: str, statement: str) -> list[tuple[Any, ...]]:
        """Run ``statement`` on ``alias`` directly, bypassing Django and djcfg-env."""
        if self.backend == "postgres":
            return pg.execute(statement, self.names[alias])
        with sqlite3.connect(self.names[alias]) as connection:
            rows = connection.execute(statement).fetchall()
        connection.close()
        return rows

    def tables(self, alias: str) -> set[str]:
        if self.backend == "postgres":
            statement = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        else:
            statement = "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'"
        return {str(row[0]) for row in self.sql(alias, statement)}

    def manage(self, *args: str) -> Any:
        return run(["python", "manage.py", *args], env=self.env, cwd=PROJECT)

    def probe(self, scenario: str) -> Any:
        return run(["python", "probe.py", scenario], env=self.env, cwd=PROJECT)

    def migrate_writable(self) -> None:
        for alias in ("default", "blog_db", "shop_db"):
            result = self.manage("migrate", "--database", alias, "-v0")
            assert result.returncode == 0, result.stderr

    def seed_analytics(self) -> None:
        self.sql("analytics", _EVENT_TABLE[self.backend])
        self.sql("analytics", "INSERT INTO analytics_event (name) VALUES ('seed')")


def _base_env() -> dict[str, str]:
    return {"SECRET_KEY": "router-tests-not-a-secret", **ROUTES}


def sqlite_databases(tmp_path: Path) -> Databases:
    names = {alias: str(tmp_path / f"{alias}.sqlite3") for alias in ALIASES}
    env = _base_env()
    for alias, path in names.items():
        variable = "DATABASE_URL" if alias == "default" else f"DATABASE_URL_{alias.upper()}"
        env[variable] = f"sqlite:///{path}" + ("?read_only=true" if alias == "analytics" else "")
    return Databases("sqlite", env, names)


def postgres_databases(postgres: pg.PostgresDatabases) -> Databases:
    names = {alias: postgres.create(alias) for alias in ALIASES}
    env = _base_env()
    for alias, name in names.items():
        variable = "DATABASE_URL" if alias == "default" else f"DATABASE_URL_{alias.upper()}"
        env[variable] = postgres.url(name, "read_only=true" if alias == "analytics" else "")
    return Databases("postgres", env, names)


@pytest.fixture(params=["sqlite", "postgres"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """The seed layout on SQLite files, then on real PostgreSQL databases."""
    if request.param == "postgres":
        yield postgres_databases(request.getfixturevalue("postgres"))
    else:
        yield sqlite_databases(tmp_path)
