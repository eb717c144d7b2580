"""Run the seed project against real databases and look at their rows directly.

The seed guide's layout: ``default`` (auth, contenttypes), ``blog_db`` (blog),
``shop_db`` (shop) and ``analytics``, read-only, whose unmanaged table another
system fills (made here by hand).

Two ways to use it:

* end to end, as a user runs it: a :class:`Seed` is one set of real databases
  (PostgreSQL, or SQLite files) for the four aliases, with the environment that
  points the project at them; tests drive it through ``manage.py`` subprocesses
  (``migrate``, ``shell -c``, ``check``) or ``probe.py`` and check every database
  with psycopg/sqlite3, never through Django, so a row in the wrong database
  cannot hide. Get one from the ``seed_project`` factory (or the ``seed``
  fixture) in tests/conftest.py.
  (For tests of what ``migrate`` itself does, the :func:`databases` fixture gives
  fresh, unmigrated ones.)
* in process: tests/settings.py is the same layout on in-memory SQLite
  databases (pytest-django makes them), and :class:`InProcess` reads rows with
  SQL on each alias's own connection.

Both have ``rows``/``execute``/``tables``/``count``, so the helpers below
(:func:`snapshot`, :func:`world_rows`, ...) work on either.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
SECRET_KEY = "seed-project-tests-not-a-secret"


class Databases(Protocol):
    """What the row helpers need: ``rows(alias, sql, params)`` on each alias's database."""

    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class _Reading:
    """``execute``/``tables``/``count`` on top of a ``rows`` method."""

    vendor: str

    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, alias: str, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement that returns nothing (DDL, INSERT) on ``alias``."""
        self.rows(alias, sql, params)

    def tables(self, alias: str) -> set[str]:
        """The tables that exist in ``alias``'s database (not SQLite's own ``sqlite_sequence``)."""
        if self.vendor == "postgresql":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'"
        return {str(row[0]) for row in self.rows(alias, sql)}

    def count(self, alias: str, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        """``SELECT count(*)`` of ``table`` in ``alias``'s database, optionally ``WHERE where``."""
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self.rows(alias, sql, params)[0][0])


@dataclass
class Seed(_Reading):
    """The seed project's four databases on one backend, and how to reach them."""

    backend: str  # "postgresql" or "sqlite"
    #: alias -> PostgreSQL database name, or SQLite file path.
    names: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def vendor(self) -> str:  # type: ignore[override]
        return self.backend

    # -- direct access (no Django) ------------------------------------------
    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on ``alias``'s database directly, without Django (``%s`` placeholders)."""
        return direct_sql.rows(self.backend, self.names[alias], sql, params)

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
    env = {"SECRET_KEY": SECRET_KEY, "DEBUG": "false", **ROUTES}
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


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seed]:
    """A fresh, unmigrated seed for one test, for tests of what ``migrate`` itself does:
    on SQLite files, then on real PostgreSQL (dropped after the test). Import it into the
    test module; migrated seeds come from the ``seed_project`` factory in tests/conftest.py.
    """
    if request.param == "postgresql":
        yield postgres_seed(request.getfixturevalue("postgres"))
    else:
        yield sqlite_seed(tmp_path)


class InProcess(_Reading):
    """The in-process seed layout (tests/settings.py): SQL on each alias's own Django connection.

    Reads go through the connection the ORM under test uses, inside the test's
    transaction, so they see exactly what the test wrote, where it wrote it.
    """

    vendor = "sqlite"

    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        from django.db import connections

        with connections[alias].cursor() as cursor:
            cursor.execute(sql, list(params) if params else None)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    @contextlib.contextmanager
    def queries(self, aliases: Iterable[str] = tuple(ALIASES)) -> Iterator[dict[str, list[str]]]:
        """alias -> the SQL Django ran on it inside the block (CaptureQueriesContext), filled at the end.

        Django logs a statement even when an execute wrapper refused it: to tell
        what reached a database, use :meth:`sent`.
        """
        from django.db import connections
        from django.test.utils import CaptureQueriesContext

        captured: dict[str, list[str]] = {}
        contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}
        with contextlib.ExitStack() as stack:
            for context in contexts.values():
                stack.enter_context(context)
            try:
                yield captured
            finally:
                for alias, context in contexts.items():
                    captured[alias] = [query["sql"] for query in context.captured_queries]

    @contextlib.contextmanager
    def sent(self, aliases: Iterable[str] = tuple(ALIASES)) -> Iterator[list[tuple[str, str]]]:
        """(alias, sql) of every statement that reached a database inside the block.

        Recorded by an execute wrapper added innermost, after djcfg-env's own
        (the read-only SQL guard's), so a statement refused before it was sent
        is not in the list. Do not switch the guards inside the block.
        """
        from django.db import connections

        record: list[tuple[str, str]] = []

        def recorder(alias: str) -> Any:
            def record_one(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
                record.append((alias, sql))
                return execute(sql, params, many, context)

            return record_one

        with contextlib.ExitStack() as stack:
            for alias in aliases:
                connection = connections[alias]
                connection.ensure_connection()
                stack.enter_context(connection.execute_wrapper(recorder(alias)))
            yield record


# -- what a test reads back ---------------------------------------------------------------

#: Every table of the seed's apps, by the alias it lives on.
TABLES = {
    "default": ["auth_user"],
    "blog_db": ["blog_post", "blog_comment"],
    "shop_db": ["shop_customer", "shop_order", "shop_wishlist", "shop_promotion"],
    "analytics": ["analytics_pageview"],
}


def snapshot(databases: Databases) -> dict[str, dict[str, list[tuple[object, ...]]]]:
    """Every row of every seed table, per database, as read directly."""
    return {
        alias: {table: sorted(databases.rows(alias, f"SELECT * FROM {table}")) for table in tables}
        for alias, tables in TABLES.items()
    }


def present(databases: Databases, alias: str, table: str, ids: list[int]) -> list[int]:
    """Which of ``ids`` are still rows of ``table`` in ``alias``'s database."""
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    rows = databases.rows(alias, f"SELECT id FROM {table} WHERE id IN ({marks})", ids)
    return sorted(int(row[0]) for row in rows)


def world_rows(databases: Databases, ids: dict[str, Any]) -> dict[str, list[int]]:
    """Which of a world's rows (seedsite.world.make_world) still exist, read from each database."""
    return {
        "user": present(databases, "default", "auth_user", [ids["user"]]),
        "posts": present(databases, "blog_db", "blog_post", ids["posts"]),
        "comments": present(databases, "blog_db", "blog_comment", ids["comments"]),
        "customer": present(databases, "shop_db", "shop_customer", [ids["customer"]]),
        "wishlist": present(databases, "shop_db", "shop_wishlist", [ids["wishlist"]]),
        "promotion": present(databases, "shop_db", "shop_promotion", [ids["promotion"]]),
    }


def all_present(ids: dict[str, Any]) -> dict[str, list[int]]:
    """What :func:`world_rows` reads while nothing of the world was deleted."""

    def listed(value: Any) -> list[int]:
        return sorted(value) if isinstance(value, list) else [value]

    keys = ("user", "posts", "comments", "customer", "wishlist", "promotion")
    return {key: listed(ids[key]) for key in keys}


NOTHING_LEFT: dict[str, list[int]] = {
    key: [] for key in ("user", "posts", "comments", "customer", "wishlist", "promotion")
}
#: What deleting one world's user deletes, per model label (the counts .delete() returns).
WORLD_COUNTS = {
    "auth.User": 1,
    "blog.Post": 2,
    "blog.Comment": 3,
    "shop.Customer": 1,
    "shop.Wishlist": 1,
    "shop.Promotion": 1,
}
