"""Run the seed project against real databases and look at their rows directly.

One test project serves every test that needs the seed guide's layout: the
router, read-only and check tests as well as the relations, join-guard and
walkthrough tests. A :class:`Seed` is one set of databases (PostgreSQL, or
SQLite files) for the seed project's four aliases -- ``default`` (auth,
contenttypes), ``blog_db`` (blog), ``shop_db`` (shop) and ``analytics``,
read-only, whose unmanaged table another system fills (made here by hand) --
with the environment that points the project at them.

Tests drive the project through ``manage.py`` subprocesses (``migrate``,
``shell -c``, ``check``) or ``probe.py`` exactly as a user would, and check
every database with psycopg/sqlite3, never through Django, so a row in the
wrong database cannot hide.

Two ways to get a :class:`Seed`:

* :func:`make_seed`, a generator for a (module-scoped) fixture: migrated, with
  the analytics table, shared by tests that each make their own rows;
* the :func:`databases` fixture: fresh and unmigrated per test, for tests that
  assert what ``migrate`` itself does.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import direct_sql, pg
from tests.conftest import run

SEED_DIR = Path(__file__).resolve().parent
#: The seed project plus apps that each make one system check fire (EXTRA_APPS).
CHECK_PROJECT = SEED_DIR.parent / "check_projects"
#: alias -> (the URL variable, query string added to the URL)
ALIASES = {
    "default": ("DATABASE_URL", ""),
    "blog_db": ("DATABASE_URL_BLOG_DB", ""),
    "shop_db": ("DATABASE_URL_SHOP_DB", ""),
    "analytics": ("DATABASE_URL_ANALYTICS", "read_only=true"),
}
#: The aliases ``migrate --database`` runs on (analytics is read-only).
WRITABLE = ("default", "blog_db", "shop_db")
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
        """Run ``sql`` on ``alias``'s database directly, without Django (``%s`` placeholders)."""
        return direct_sql.rows(self.backend, self.names[alias], sql, params)

    def execute(self, alias: str, sql: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT) on ``alias`` directly."""
        self.rows(alias, sql)

    def tables(self, alias: str) -> set[str]:
        """The tables that exist in ``alias``'s database (not SQLite's own ``sqlite_sequence``)."""
        if self.backend == "postgresql":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'"
        return {str(row[0]) for row in self.rows(alias, sql)}

    def count(self, alias: str, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        """``SELECT count(*)`` of ``table`` in ``alias``'s database, optionally ``WHERE where``."""
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self.rows(alias, sql, params)[0][0])

    # -- the project, as a user runs it -------------------------------------
    def manage(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``python manage.py <args>`` in the seed project, with this seed's environment."""
        return run(["python", "manage.py", *args], env={**self.env, **(env or {})}, cwd=SEED_DIR)

    def probe(self, scenario: str) -> subprocess.CompletedProcess[str]:
        """``python probe.py <scenario>``: prints one JSON object (see probe.py)."""
        return run(["python", "probe.py", scenario], env=self.env, cwd=SEED_DIR)

    def shell(self, code: str, *, check: bool = True) -> Any:
        """Run ``code`` in ``manage.py shell -c``; return what it passed to ``result(...)``.

        The code gets a ``result(value)`` function that prints ``value`` as JSON
        on a marked line; a failure (non-zero exit) raises with the output.
        With ``check=False`` the completed process is returned instead.
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
        for alias in WRITABLE:
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
    """Four empty SQLite files in ``directory``."""
    names = {alias: str(directory / f"{alias}.sqlite3") for alias in ALIASES}
    for path in names.values():
        sqlite3.connect(path).close()
    return Seed("sqlite", names, _env({alias: f"sqlite:///{path}" for alias, path in names.items()}))


def make_seed(backend: str, tmp_dir: Path, env: dict[str, str] | None = None) -> Iterator[Seed]:
    """Generator for a fixture: a migrated seed on ``backend``, cleaned up afterwards.

    ``env`` adds variables (e.g. ``EXTRA_APPS``) before the seed is migrated.
    """
    if backend == "postgresql":
        pg.require_postgres()
        databases = pg.PostgresDatabases()
        try:
            seed = postgres_seed(databases)
            seed.env.update(env or {})
            seed.migrate()
            yield seed
        finally:
            databases.drop_all()
    else:
        seed = sqlite_seed(tmp_dir)
        seed.env.update(env or {})
        seed.migrate()
        yield seed


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seed]:
    """A fresh, unmigrated seed for one test: on SQLite files, then on real PostgreSQL."""
    if request.param == "postgresql":
        yield postgres_seed(request.getfixturevalue("postgres"))
    else:
        yield sqlite_seed(tmp_path)
