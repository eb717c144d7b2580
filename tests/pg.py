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


#: Databases this process made and has given back, by label, emptied: the next test that asks
#: for one with that label gets it instead of a new one. A CREATE DATABASE and DROP DATABASE pair
#: costs the server about 0.2 s of CPU (the template copied through the WAL, which the hot
#: standby replays too, and a checkpoint for the drop); emptying a database costs a tenth of it.
#: They are dropped when the process ends (``drop_pooled``, called by tests/conftest.py).
_POOL: dict[str, list[str]] = {}
_LABEL: dict[str, str] = {}


class PostgresDatabases:
    """Gives uniquely named, empty databases to one test and takes them back afterwards.

    Each is new, or one an earlier test of this process used and that was emptied as
    ``fresh()`` empties it: its sessions ended, its schemas dropped, ``public`` made again as
    ``CREATE DATABASE`` makes it, and database-level settings reset. One that cannot be
    emptied is dropped instead.
    """

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self, label: str = "db") -> str:
        free = _POOL.get(label)
        if free:
            name = free.pop()
        else:
            name = f"{RUN_PREFIX}_{secrets.token_hex(3)}_{label}".lower()[:63]
            execute(f'CREATE DATABASE "{name}"')
            _LABEL[name] = label
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
            if fresh(name):
                _POOL.setdefault(_LABEL[name], []).append(name)
            else:
                drop(name)
        self.created.clear()


def fresh(name: str) -> bool:
    """Empty ``name`` as ``CREATE DATABASE`` from template0/1 leaves it; False if that failed."""
    import time

    import psycopg

    try:
        deadline = time.monotonic() + 10
        while execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )[0][0]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        with psycopg.connect(**_conninfo(name), autocommit=True) as conn:  # type: ignore[arg-type]
            schemas = [row[0] for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
            )]
            drops = "".join(f'DROP SCHEMA "{schema}" CASCADE;' for schema in schemas)
            conn.execute(
                f"{drops} CREATE SCHEMA public AUTHORIZATION pg_database_owner;"
                " GRANT USAGE ON SCHEMA public TO PUBLIC;"
                " COMMENT ON SCHEMA public IS 'standard public schema';"
                f' ALTER DATABASE "{name}" RESET ALL;'
            )
        return True
    except Exception:  # noqa: BLE001 - dropped instead
        return False


def drop(name: str) -> None:
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _LABEL.pop(name, None)


def drop_pooled() -> None:
    """Drop the databases given back to this process's pool (at the end of the session)."""
    for names in _POOL.values():
        while names:
            drop(names.pop())


def leftover_databases() -> list[str]:
    rows = execute(f"SELECT datname FROM pg_database WHERE datname LIKE '{RUN_PREFIX}%'")
    return [str(row[0]) for row in rows]
