"""Run the seed project against real databases and look at their rows directly.

A :class:`Seed` is one set of databases (PostgreSQL, or SQLite files) for the
seed project's four aliases, with the environment that points the project at
them. Tests drive the project through ``manage.py`` subprocesses (``migrate``,
``shell -c``) exactly as a user would, and check every database with
psycopg/sqlite3, never through Django, so a row in the wrong database cannot
hide.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import pg
from tests.conftest import run

SEED_DIR = Path(__file__).resolve().parent
#: alias -> (the URL variable, query string added to the URL)
ALIASES = {
    "default": ("DATABASE_URL", ""),
    "blog_db": ("DATABASE_URL_BLOG_DB", ""),
    "shop_db": ("DATABASE_URL_SHOP_DB", ""),
    "analytics": ("DATABASE_URL_ANALYTICS", "read_only=true"),
}
ROUTES = {"DB_ROUTE_BLOG": "blog_db", "DB_ROUTE_SHOP": "shop_db", "DB_ROUTE_ANALYTICS": "analytics"}
#: The analytics app is unmanaged (another system fills it): its table is made by hand.
ANALYTICS_TABLE = {
    "postgresql": "CREATE TABLE analytics_pageview (id bigserial PRIMARY KEY, "
    "path varchar(200) NOT NULL, user_id bigint NULL)",
    "sqlite": "CREATE TABLE analytics_pageview (id integer PRIMARY KEY AUTOINCREMENT, "
    "path varchar(200) NOT NULL, user_id bigint NULL)",
}
RESULT = "RESULT:"


@dataclass
class Seed:
    """The seed project's four databases on one backend, and how to reach them."""

    backend: str  # "postgresql" or "sqlite"
    #: alias -> PostgreSQL database name, or SQLite file path.
    names: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    # -- direct access (no Django) ------------------------------------------
    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on ``alias``'s database directly and return the rows (``%s`` placeholders)."""
        if self.backend == "postgresql":
            import psycopg

            with psycopg.connect(**pg._conninfo(self.names[alias]), autocommit=True) as conn:  # type: ignore[arg-type]
                cursor = conn.execute(sql, params)  # type: ignore[arg-type]
                return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        with closing(sqlite3.connect(self.names[alias])) as conn:
            cursor = conn.execute(sql.replace("%s", "?"), tuple(params))
            result = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            conn.commit()
            return result

    def execute(self, alias: str, sql: str) -> None:
        self.rows(alias, sql)

    def tables(self, alias: str) -> set[str]:
        """The tables that exist in ``alias``'s database."""
        if self.backend == "postgresql":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return {str(row[0]) for row in self.rows(alias, sql)}

    def count(self, alias: str, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self.rows(alias, sql, params)[0][0])

    # -- the project, as a user runs it -------------------------------------
    def manage(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(["python", "manage.py", *args], env={**self.env, **(env or {})}, cwd=SEED_DIR)

    def shell(self, code: str, *, check: bool = True) -> Any:
        """Run ``code`` in ``manage.py shell -c``; return what it passed to ``result(...)``.

        The code gets a ``result(value)`` function that prints ``value`` as JSON
        on a marked line; a failure (non-zero exit) raises with the output.
        """
        prelude = (
            "import json as _json\n"
            f"def result(value):\n    print({RESULT!r} + _json.dumps(value, default=str), flush=True)\n"
        )
        done = self.manage("shell", "-c", prelude + textwrap.dedent(code))
        if check and done.returncode != 0:
            raise AssertionError(
                f"manage.py shell failed ({done.returncode}):\nSTDOUT:\n{done.stdout}\nSTDERR:\n{done.stderr}"
            )
        results = [line[len(RESULT) :] for line in done.stdout.splitlines() if line.startswith(RESULT)]
        if not check:
            return done
        if not results:
            raise AssertionError(f"no result printed:\nSTDOUT:\n{done.stdout}\nSTDERR:\n{done.stderr}")
        return json.loads(results[-1])

    def migrate(self) -> None:
        """``migrate --database`` for each writable alias, and the analytics table by hand."""
        for alias in ("default", "blog_db", "shop_db"):
            done = self.manage("migrate", "--database", alias, "--no-input", "-v", "0")
            if done.returncode != 0:
                raise AssertionError(f"migrate --database {alias} failed:\n{done.stdout}\n{done.stderr}")
        self.execute("analytics", ANALYTICS_TABLE[self.backend])


def _env(urls: dict[str, str]) -> dict[str, str]:
    env = {"SECRET_KEY": "seed-project-tests-not-a-secret", "DEBUG": "false", **ROUTES}
    for alias, (variable, query) in ALIASES.items():
        url = urls[alias]
        env[variable] = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
    return env


def postgres_seed(databases: pg.PostgresDatabases) -> Seed:
    """Four fresh PostgreSQL databases (dropped with ``databases``)."""
    names = {alias: databases.create(alias) for alias in ALIASES}
    return Seed("postgresql", names, _env({alias: databases.url(name) for alias, name in names.items()}))


def sqlite_seed(directory: Path) -> Seed:
    """Four SQLite files in ``directory``."""
    names = {alias: str(directory / f"{alias}.sqlite3") for alias in ALIASES}
    for path in names.values():
        sqlite3.connect(path).close()
    return Seed("sqlite", names, _env({alias: f"sqlite:///{path}" for alias, path in names.items()}))


def make_seed(backend: str, tmp_dir: Path) -> Iterator[Seed]:
    """Generator for a fixture: a migrated seed on ``backend``, cleaned up afterwards."""
    if backend == "postgresql":
        pg.require_postgres()
        databases = pg.PostgresDatabases()
        try:
            seed = postgres_seed(databases)
            seed.migrate()
            yield seed
        finally:
            databases.drop_all()
    else:
        seed = sqlite_seed(tmp_dir)
        seed.migrate()
        yield seed
