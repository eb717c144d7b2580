"""The hot standby the read-replica tests use: real streaming replication on this machine.

``.ci/postgres-replica-up`` makes it: a second PostgreSQL cluster on
``DJCFG_TEST_PG_REPLICA_PORT`` (default 5433) streaming from the primary of
:mod:`tests.pg` through a replication slot. Databases created on the primary
(``PostgresDatabases.create``) appear on the standby under the same name, so a
test points ``DATABASE_URL`` at the primary and a ``replica_of`` alias at
:func:`replica_url` of the same name.

Pausing replay and stopping the standby need the server's superuser: these
helpers run ``psql`` and ``pg_ctlcluster`` as ``postgres`` through ``su`` (the
tests run as root here and in CI). Without a standby the tests skip and say
why; with ``DJCFG_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from . import pg

PORT = int(os.environ.get("DJCFG_TEST_PG_REPLICA_PORT", "5433"))
CLUSTER = os.environ.get("DJCFG_TEST_PG_REPLICA_CLUSTER", "replica")


def _conninfo(database: str | None = None) -> dict[str, object]:
    return {**pg._conninfo(database), "port": PORT}


def replica_url(database: str, query: str = "") -> str:
    """A URL for ``database`` on the standby, as the tests' login role."""
    info = _conninfo(database)
    user = quote(str(info["user"]), safe="")
    password = quote(str(info["password"]), safe="")
    url = f"postgres://{user}:{password}@{info['host']}:{PORT}/{database}"
    return f"{url}?{query}" if query else url


def execute(sql: str, database: str | None = None) -> list[tuple[object, ...]]:
    """Run ``sql`` on the standby as the tests' login role (reads only: it is a standby)."""
    import psycopg

    with psycopg.connect(**_conninfo(database), autocommit=True) as conn:  # type: ignore[arg-type]
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _version() -> str:
    return sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(p) for p in v.split(".")])[-1]


def _superuser_sql(sql: str) -> str:
    """Run ``sql`` on the standby as ``postgres`` (pausing replay needs the superuser)."""
    result = subprocess.run(
        ["su", "postgres", "-c", f"psql -p {PORT} -X -tA -v ON_ERROR_STOP=1 -c \"{sql}\""],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None when the standby answers and is in recovery, else why not."""
    reason = pg.unavailable_reason()
    if reason is not None:
        return reason
    try:
        rows = execute("select pg_is_in_recovery()")
    except Exception as error:  # noqa: BLE001 - any failure means "no standby"
        return f"no PostgreSQL standby on port {PORT} ({type(error).__name__})"
    if not rows or rows[0][0] is not True:
        return f"the server on port {PORT} is not a standby (pg_is_in_recovery() is false)"
    if os.geteuid() != 0 or shutil.which("su") is None:
        return "pausing replay and stopping the standby need root (su postgres)"
    return None


def require_replica() -> None:
    """Skip (or, with DJCFG_REQUIRE_POSTGRES=1, fail) when there is no standby."""
    reason = unavailable_reason()
    if reason is None:
        return
    message = f"read-replica test needs a hot standby: {reason}; run .ci/postgres-replica-up"
    if pg.REQUIRED:
        pytest.fail(f"{message} [DJCFG_REQUIRE_POSTGRES=1 turns this skip into a failure]")
    pytest.skip(message)


def _primary_lsn() -> str:
    return str(pg.execute("select pg_current_wal_lsn()")[0][0])


def wait_replayed(timeout: float = 10.0) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    target = _primary_lsn()
    deadline = time.monotonic() + timeout
    while True:
        row = execute(f"select pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        if row and row[0][0]:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby did not replay up to {target} within {timeout:g}s")
        time.sleep(0.05)


def wait_for_database(name: str, timeout: float = 10.0) -> None:
    """Wait until a database just created on the primary can be connected to on the standby."""
    wait_replayed(timeout)
    execute("select 1", name)


def replay_lag_seconds() -> float:
    """The standby's replay lag: 0 when it has replayed all it received, else the age of the
    last transaction it replayed."""
    row = execute(
        "select case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0 "
        "else extract(epoch from now() - pg_last_xact_replay_timestamp()) end"
    )
    return float(row[0][0] or 0)


@contextmanager
def paused_replay() -> Iterator[None]:
    """Replay paused on the standby (it still receives WAL), resumed on exit."""
    _superuser_sql("select pg_wal_replay_pause()")
    try:
        yield
    finally:
        _superuser_sql("select pg_wal_replay_resume()")


@contextmanager
def stopped_standby() -> Iterator[None]:
    """The standby stopped (fast), started again on exit and waited for until it answers."""
    cluster = [_version(), CLUSTER]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "stop", "-m", "fast"],
        check=True, capture_output=True, timeout=60,
    )
    try:
        yield
    finally:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                execute("select 1")
                break
            except Exception:  # noqa: BLE001 - still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
