"""The real MySQL/MariaDB server the tests use, and databases made per test run.

``DJCFG_TEST_MYSQL_URL`` (default ``mysql://djcfg:djcfg@127.0.0.1:3306/mysql``,
the user ``.ci/mariadb-up`` creates) points at a server where that user may
CREATE DATABASE (and CREATE USER, for the login tests). Without a server the
MySQL tests skip and say why; with ``DJCFG_REQUIRE_MYSQL=1`` (CI) they fail
instead. Databases are named like the PostgreSQL ones (``tests.pg.RUN_PREFIX``),
so one run's leftovers on either server are recognisable.
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.pg import RUN_PREFIX

ADMIN_URL = os.environ.get("DJCFG_TEST_MYSQL_URL", "mysql://djcfg:djcfg@127.0.0.1:3306/mysql")
REQUIRED = os.environ.get("DJCFG_REQUIRE_MYSQL", "") not in ("", "0", "false", "no")
#: MySQL's limit on identifiers (database names included).
MAX_NAME = 64


def _conninfo(database: str | None = None) -> dict[str, Any]:
    parts = urlsplit(ADMIN_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "database": database or parts.path.lstrip("/") or "mysql",
        "connect_timeout": 3,
    }


def _connect(database: str | None = None) -> Any:
    import MySQLdb

    info = _conninfo(database)
    return MySQLdb.connect(
        host=info["host"], port=info["port"], user=info["user"], password=info["password"],
        database=info["database"], connect_timeout=info["connect_timeout"], autocommit=True,
        charset="utf8mb4",
    )


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None when the server answers, else why not (no password in it)."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        return "mysqlclient is not installed (pip install -e '.[test]'; it needs .ci/mariadb-up --deps-only)"
    try:
        conn = _connect()
        try:
            conn.cursor().execute("SELECT 1")
        finally:
            conn.close()
    except Exception as error:  # noqa: BLE001 - any failure means "no server"
        info = _conninfo()
        return f"no MySQL/MariaDB at {info['host']}:{info['port']} ({type(error).__name__})"
    return None


@functools.lru_cache(maxsize=1)
def server_version() -> str:
    """``SELECT VERSION()``, e.g. ``10.11.6-MariaDB-0+deb12u1`` or ``8.0.36``."""
    return str(execute("SELECT VERSION()")[0][0])


def is_mariadb() -> bool:
    return "mariadb" in server_version().lower()


def require_mysql() -> None:
    """Skip (or, with DJCFG_REQUIRE_MYSQL=1, fail) when there is no server."""
    reason = unavailable_reason()
    if reason is None:
        return
    message = f"MySQL test needs a server: {reason}; run .ci/mariadb-up"
    if REQUIRED:
        pytest.fail(f"{message} [DJCFG_REQUIRE_MYSQL=1 turns this skip into a failure]")
    pytest.skip(message)


def execute(sql: str, database: str | None = None, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``%s`` placeholders) on the server, autocommit; return its rows."""
    conn = _connect(database)
    try:
        cursor = conn.cursor()
        cursor.execute(sql, tuple(params) or None)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        conn.close()


def tables(database: str) -> set[str]:
    rows = execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", params=[database]
    )
    return {str(row[0]) for row in rows}


def migration_rows(database: str) -> list[tuple[str, str]]:
    """(app, name) of every row of django_migrations, duplicates kept ([] without the table)."""
    if "django_migrations" not in tables(database):
        return []
    return [(str(a), str(n)) for a, n in execute("SELECT app, name FROM django_migrations", database)]


def password_free(result: subprocess.CompletedProcess[str], *secrets: str) -> bool:
    """True when neither output of ``result`` shows the test user's password (as ``:<password>@``,
    it is also a user name) or any of ``secrets``."""
    output = result.stdout + result.stderr
    return all(secret not in output for secret in (f":{_conninfo()['password']}@", *secrets))


class MySQLDatabases:
    """Makes uniquely named databases (and users) for one test or module, and drops them."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.users: list[str] = []

    def create(self, label: str = "db", *, length: int | None = None) -> str:
        """A new empty database ``<RUN_PREFIX>_<random>_<label>`` (utf8mb4).

        ``length`` pads the name with ``x`` to exactly that many characters
        (at most 64, MySQL's limit), for tests of long names.
        """
        name = f"{RUN_PREFIX}_{secrets.token_hex(3)}_{label}".lower()[:MAX_NAME]
        if length is not None:
            name = (name + "x" * MAX_NAME)[: min(length, MAX_NAME)]
        execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.created.append(name)
        return name

    def create_user(self, label: str, password: str, grants: Sequence[str]) -> str:
        """A login ``<label>_<random>`` @ ``%`` and ``localhost`` with exactly ``grants``.

        Each grant is ``"<privileges> ON <what>"``, e.g. ``"SELECT ON `db`.*"``.
        """
        name = f"djt_{label}_{secrets.token_hex(3)}"[:32]
        for host in ("%", "localhost"):
            execute(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY %s", params=[password])
            for grant in grants:
                execute(f"GRANT {grant} TO '{name}'@'{host}'")
        self.users.append(name)
        return name

    def url(self, name: str, query: str = "", *, user: str | None = None, password: str | None = None) -> str:
        info = _conninfo(name)
        user = quote(str(user if user is not None else info["user"]), safe="")
        password = quote(str(password if password is not None else info["password"]), safe="")
        url = f"mysql://{user}:{password}@{info['host']}:{info['port']}/{name}"
        return f"{url}?{query}" if query else url

    @property
    def password(self) -> str:
        return str(_conninfo()["password"])

    def drop_all(self) -> None:
        for name in reversed(self.created):
            execute(f"DROP DATABASE IF EXISTS `{name}`")
        self.created.clear()
        for name in reversed(self.users):
            for host in ("%", "localhost"):
                execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
        self.users.clear()


def leftover_databases() -> list[str]:
    rows = execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                   params=[f"{RUN_PREFIX}%"])
    return [str(row[0]) for row in rows]
