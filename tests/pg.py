"""The real PostgreSQL server the tests use, and databases made per test run.

``DJCFG_TEST_PG_URL`` (default ``postgres://djcfg:djcfg@127.0.0.1:5432/postgres``,
the role ``.ci/postgres-up`` creates) points at a server where that role may
CREATE DATABASE. Without a server the PostgreSQL tests skip and say why;
with ``DJCFG_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import functools
import os
import secrets
from urllib.parse import quote, urlsplit

import pytest

ADMIN_URL = os.environ.get("DJCFG_TEST_PG_URL", "postgres://djcfg:djcfg@127.0.0.1:5432/postgres")
REQUIRED = os.environ.get("DJCFG_REQUIRE_POSTGRES", "") not in ("", "0", "false", "no")
#: Every database a run makes starts with this, so a crashed run's leftovers are recognisable.
RUN_PREFIX = f"djcfgtest_{secrets.token_hex(3)}"


def _conninfo(database: str | None = None) -> dict[str, object]:
    parts = urlsplit(ADMIN_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": database or parts.path.lstrip("/") or "postgres",
        "connect_timeout": 3,
    }


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None when the server answers, else why not (no password in it)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(**_conninfo(), autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute("select 1")
    except Exception as error:  # noqa: BLE001 - any failure means "no server"
        return f"no PostgreSQL at {_conninfo()['host']}:{_conninfo()['port']} ({type(error).__name__})"
    return None


def require_postgres() -> None:
    """Skip (or, with DJCFG_REQUIRE_POSTGRES=1, fail) when there is no server."""
    reason = unavailable_reason()
    if reason is None:
        return
    message = f"PostgreSQL test needs a server: {reason}; run `make postgres` (or .ci/postgres-up)"
    if REQUIRED:
        pytest.fail(f"{message} [DJCFG_REQUIRE_POSTGRES=1 turns this skip into a failure]")
    pytest.skip(message)


def execute(sql: str, database: str | None = None) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(**_conninfo(database), autocommit=True) as conn:  # type: ignore[arg-type]
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


class PostgresDatabases:
    """Makes uniquely named databases for one test and drops them afterwards."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self, label: str = "db") -> str:
        name = f"{RUN_PREFIX}_{secrets.token_hex(3)}_{label}".lower()[:63]
        execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def url(self, name: str, query: str = "") -> str:
        info = _conninfo(name)
        user = quote(str(info["user"]), safe="")
        password = quote(str(info["password"]), safe="")
        url = f"postgres://{user}:{password}@{info['host']}:{info['port']}/{name}"
        return f"{url}?{query}" if query else url

    @property
    def password(self) -> str:
        return str(_conninfo()["password"])

    def drop_all(self) -> None:
        for name in reversed(self.created):
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def leftover_databases() -> list[str]:
    rows = execute(f"SELECT datname FROM pg_database WHERE datname LIKE '{RUN_PREFIX}%'")
    return [str(row[0]) for row in rows]
