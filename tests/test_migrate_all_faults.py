"""``migrate_all`` keeps its exit codes, and its time bounds, when servers and copies misbehave.

Each test runs ``manage.py migrate_all`` of tests/release_project as a subprocess
(the entry point a release runs) against a real PostgreSQL / MariaDB server, a
server that accepts TCP and never answers (a "black hole", a thread of this
process), or a proxy that forwards to the real server until it is frozen. It
asserts the exit code, the time the run took, what it printed (naming the
alias, never the password), and what the database holds afterwards.

Only the ``flaky`` alias is migrated (``--database flaky``); ``default`` is an
SQLite file, so each test makes one PostgreSQL/MariaDB database.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from djcfg_env.release.locks import (
    APPLICATION_NAME,
    DEFAULT_CONNECT_TIMEOUT,
    POSTGRES_LOCK_KEY,
    SERVER_GRACE,
    mysql_lock_name,
)
from tests import mysql, pg
from tests.conftest import popen
from tests.mysql import MySQLDatabases
from tests.pg import PostgresDatabases
from tests.test_migrate_all import (
    BASE_ENV,
    DISTINCTIVE,
    FLAKY,
    MANAGE,
    assert_no_secret,
    migrate_all,
    names,
    pg_rows,
)

#: Slack on top of a bound under test, measured on the run's own clock (:func:`run_seconds`),
#: which starts after Django's start-up (seconds, on a busy machine).
SLACK = 1.5


def run_seconds(out: str) -> float:
    """The run's own time, from its summary (``migrate_all: FAILED (exit 3) in 4.45s``)."""
    match = re.search(r"^migrate_all: (?:ok|FAILED).* in ([0-9.]+)s$", out, re.MULTILINE)
    assert match, out
    return float(match.group(1))


# -- helpers -----------------------------------------------------------------------------------


class BlackHole:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._held.append(client)

    @property
    def accepted(self) -> int:
        return len(self._held)

    def close(self) -> None:
        self._closed = True
        self._server.close()
        for client in self._held:
            client.close()


class FreezableProxy:
    """Forwards TCP to the real PostgreSQL server until :meth:`freeze`; then forwards nothing."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.frozen = threading.Event()
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set():  # swallow everything from now on, keep the sockets open
                time.sleep(0.05)
                if self._server.fileno() == -1:
                    return
            try:
                target.sendall(data)
            except OSError:
                return

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


def sqlite_default(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path}/default.db", "DB_ROUTE_FLAKY": "flaky"}


def pg_flaky(postgres: PostgresDatabases, tmp_path: Path, query: str = "") -> tuple[dict[str, str], str]:
    """(env, database name): ``flaky`` on a fresh PostgreSQL database, ``default`` an SQLite file."""
    dbname = postgres.create("flaky")
    return {**sqlite_default(tmp_path), "DATABASE_URL_FLAKY": postgres.url(dbname, query)}, dbname


def timed(
    *args: str, env: dict[str, str], timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``migrate_all --database flaky *args``, and the seconds the run took by its own clock.

    ``timeout`` (wall clock, start-up included) only catches a run that hangs.
    """
    result = migrate_all("--noinput", "--database", "flaky", *args, env=env, timeout=timeout)
    return result, run_seconds(result.stdout)


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """A copy in its own process group (so the test can SIGKILL all of it)."""
    return popen(
        ["python", str(MANAGE), "migrate_all", "--noinput", "--database", "flaky", *args],
        env={**BASE_ENV, **env}, start_new_session=True,
    )


def read_until(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    line = ""
    while text not in line:
        line = process.stdout.readline()
        assert line, f"the copy ended before printing {text!r}"


def kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate(timeout=30)


def wait_for(condition: object, seconds: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def pg_connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(**pg._conninfo(dbname), autocommit=True)  # type: ignore[arg-type]


def advisory_lock_held(dbname: str) -> bool:
    rows = pg.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        f"WHERE l.locktype = 'advisory' AND l.granted AND d.datname = '{dbname}'"
    )
    return bool(rows[0][0])


# -- --wait and connect timeouts: a server that accepts TCP and never answers --------------------


def test_wait_bounds_each_attempt_against_a_black_hole(tmp_path: Path, black_hole: BlackHole) -> None:
    env = {
        **sqlite_default(tmp_path),
        "DATABASE_URL_FLAKY": f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:{black_hole.port}/flaky_db",
    }
    result, took = timed("--wait", "3", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    # SECONDS plus at most libpq's smallest connect timeout (2 s), plus Django's start-up.
    assert took < 3 + 2 + SLACK, took
    assert black_hole.accepted >= 1
    out = result.stdout
    assert f"[flaky] gave up waiting after 3s for postgresql 127.0.0.1:{black_hole.port}/flaky_db" in out
    assert (
        "unreachable: flaky: not reachable within --wait 3s: OperationalError: connection timeout expired"
        in out
    )
    assert "migrate_all: exit 3: a database was unavailable" in result.stderr
    assert_no_secret(result, DISTINCTIVE)


def test_wait_0_tries_once_within_the_smallest_connect_timeout(tmp_path: Path, black_hole: BlackHole) -> None:
    env = {
        **sqlite_default(tmp_path),
        "DATABASE_URL_FLAKY": f"postgres://djcfg:x@127.0.0.1:{black_hole.port}/z",
    }
    result, took = timed("--wait", "0", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 2 + SLACK, took
    assert "[flaky] gave up waiting after 0s" in result.stdout
    assert black_hole.accepted == 1


def test_without_wait_a_black_hole_costs_one_default_connect_timeout(
    tmp_path: Path, black_hole: BlackHole
) -> None:
    # Two aliases on the black hole: probed in parallel, each given up on once, not again.
    env = {
        **sqlite_default(tmp_path),
        "DATABASE_URL_FLAKY": f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:{black_hole.port}/flaky_db",
        "DATABASE_URL_ZED": f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:{black_hole.port}/zed_db",
    }
    result = migrate_all(
        "--noinput", "--keep-going", "--database", "flaky", "--database", "zed", env=env, timeout=60
    )
    assert result.returncode == 3, result.stdout + result.stderr
    took = run_seconds(result.stdout)
    assert DEFAULT_CONNECT_TIMEOUT <= took < DEFAULT_CONNECT_TIMEOUT + SLACK, took
    assert "[flaky] UNREACHABLE after" in result.stdout
    assert "[zed] UNREACHABLE after" in result.stdout
    assert "timeout" in result.stdout.lower()
    assert_no_secret(result, DISTINCTIVE)


def test_mysql_wait_bounds_each_attempt_against_a_black_hole(tmp_path: Path, black_hole: BlackHole) -> None:
    pytest.importorskip("MySQLdb")
    env = {
        **sqlite_default(tmp_path),
        "DATABASE_URL_FLAKY": f"mysql://djcfg:{DISTINCTIVE}@127.0.0.1:{black_hole.port}/flaky_db",
    }
    result, took = timed("--wait", "2", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 2 + 2 + SLACK, took
    assert f"[flaky] gave up waiting after 2s for mysql 127.0.0.1:{black_hole.port}/flaky_db" in result.stdout
    assert_no_secret(result, DISTINCTIVE)


# -- the lock session: only --lock-timeout bounds the wait, and the server keeps the session ----------


def test_a_statement_timeout_in_the_url_does_not_cut_the_lock_wait(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    env, dbname = pg_flaky(postgres, tmp_path, "options=" + quote("-c statement_timeout=1000", safe=""))
    with pg_connect(dbname) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
        # Held for longer than --lock-timeout: exit 3 (not 1) after --lock-timeout, not after 1 s.
        result, took = timed("--lock-timeout", "2.5", env=env)
        assert result.returncode == 3, result.stdout + result.stderr
        assert "[flaky] LOCK TIMEOUT after" in result.stdout
        assert "could not obtain the PostgreSQL advisory lock within 2.5s" in result.stdout
        assert took >= 2.5
        # Released after 2 s (twice the statement_timeout): the waiting copy goes on.
        waiting = start("--lock-timeout", "30", env=env)
        try:
            read_until(waiting, "[flaky] waiting for the PostgreSQL advisory lock")
            time.sleep(2)
            holder.execute("SELECT pg_advisory_unlock(%s)", [POSTGRES_LOCK_KEY])
            out, err = waiting.communicate(timeout=60)
        finally:
            kill_group(waiting)
    assert waiting.returncode == 0, out + err
    assert "[flaky] done: applied 3 migrations" in out
    assert names(pg_rows(dbname), "flaky") == FLAKY


def test_idle_timeouts_in_the_url_do_not_drop_the_lock_session(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    # The lock session sits idle while the migrations run; here the server is busy for 3 s in
    # flaky.0002 (RELEASE_PROJECT_HOLD), so only the lock session is idle.
    options = "-c idle_session_timeout=1000 -c idle_in_transaction_session_timeout=1000"
    env, dbname = pg_flaky(postgres, tmp_path, "options=" + quote(options, safe=""))
    copy = start("-v", "2", env={**env, "RELEASE_PROJECT_HOLD": "3"})
    try:
        read_until(copy, "applying flaky.0002_release_step")
        time.sleep(2)
        assert advisory_lock_held(dbname), "the server dropped the idle lock session"
        out, err = copy.communicate(timeout=60)
    finally:
        kill_group(copy)
    assert copy.returncode == 0, out + err
    assert names(pg_rows(dbname), "flaky") == FLAKY


def test_a_server_that_stops_answering_during_the_lock_wait(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    dbname = postgres.create("flaky")
    info = pg._conninfo(dbname)
    proxy = FreezableProxy(str(info["host"]), int(info["port"]))  # type: ignore[call-overload]
    try:
        env = {
            **sqlite_default(tmp_path),
            "DATABASE_URL_FLAKY": f"postgres://{info['user']}:{info['password']}@127.0.0.1:{proxy.port}/{dbname}",
        }
        with pg_connect(dbname) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
            copy = start("--lock-timeout", "2", env=env)
            try:
                read_until(copy, "[flaky] waiting for the PostgreSQL advisory lock")
                proxy.freeze()  # the server's "lock timeout" answer never arrives
                out, err = copy.communicate(timeout=60)
            finally:
                kill_group(copy)
    finally:
        proxy.close()
    assert copy.returncode == 3, out + err
    assert run_seconds(out) < 2 + SERVER_GRACE + SLACK, out
    assert "[flaky] UNREACHABLE after" in out
    assert "did not answer the lock request within 7s" in out
    assert f":{pg._conninfo()['password']}@" not in out + err
    assert pg_rows(dbname) == []


# -- a copy killed mid-statement, and table locks held by others ----------------------------------------


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_next_copy_ends_the_statement_a_killed_copy_left_running(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    env, dbname = pg_flaky(postgres, tmp_path)
    dead = start("-v", "2", env={**env, "RELEASE_PROJECT_HOLD": "60"})
    read_until(dead, "applying flaky.0002_release_step")

    def sleeping() -> list[tuple[object, ...]]:
        return pg.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE state = 'active' "
            f"AND query LIKE 'SELECT pg_sleep%%' AND datname = '{dbname}' "
            "AND query_start < clock_timestamp() - interval '1 second'"
        )

    wait_for(sleeping, what="the held statement")
    [(pid, application_name)] = sleeping()
    kill_group(dead)
    # The server runs the dead copy's statement on, holding ACCESS EXCLUSIVE on flaky_marker.
    assert sleeping() == [(pid, application_name)]

    try:
        result, took = timed("--lock-timeout", "5", env=env, timeout=40)
    finally:
        pg.execute(f"SELECT pg_terminate_backend({int(pid)})")  # type: ignore[call-overload]
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 5 + SLACK, took
    assert f"[flaky] ended PostgreSQL backend {pid}: a copy of migrate_all that is gone" in result.stdout
    assert "[flaky] done: applied 2 migrations" in result.stdout
    assert names(pg_rows(dbname), "flaky") == FLAKY
    assert pg.execute("SELECT count(*) FROM flaky_marker", dbname)[0][0] == 1
    assert sleeping() == []
    # How the next copy knew it: migrate_all names the sessions it migrates on.
    assert application_name == APPLICATION_NAME


def test_a_table_lock_held_by_another_session_is_bounded_by_lock_timeout(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    env, dbname = pg_flaky(postgres, tmp_path)
    failed = migrate_all("--noinput", "--database", "flaky", env={**env, "RELEASE_PROJECT_FAIL": "1"})
    assert failed.returncode == 1  # flaky.0001 applied, flaky_marker exists
    with pg_connect(dbname) as other, other.transaction():
        # Not a copy of migrate_all: an application's transaction, never ended by migrate_all.
        other.execute("LOCK TABLE flaky_marker IN SHARE MODE")
        result, took = timed("--lock-timeout", "2", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 2 + SLACK, took
    out = result.stdout
    assert "[flaky] LOCK TIMEOUT after" in out
    assert (
        "in flaky.0002_release_step: waited longer than --lock-timeout (2s) for a table lock another "
        "session holds: OperationalError: canceling statement due to lock timeout"
    ) in out
    assert "  lock timeout: flaky in flaky.0002_release_step" in out
    assert "ended PostgreSQL backend" not in out
    assert names(pg_rows(dbname), "flaky") == ["flaky.0001_initial"]
    again = migrate_all("--noinput", "--database", "flaky", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert names(pg_rows(dbname), "flaky") == FLAKY


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sqlite_a_killed_copy_holding_the_lock_file_does_not_hold_the_next_one(tmp_path: Path) -> None:
    env = {**sqlite_default(tmp_path), "DATABASE_URL_FLAKY": f"sqlite:///{tmp_path}/flaky.db"}
    dead = start("-v", "2", env={**env, "RELEASE_PROJECT_SLEEP": "60"})
    read_until(dead, "applying flaky.0002_release_step")
    kill_group(dead)
    result, took = timed("--lock-timeout", "2", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 2 + SLACK, took
    assert "waiting for the lock" not in result.stdout
    assert "[flaky] done: applied 2 migrations" in result.stdout


def test_sqlite_another_writer_is_waited_for_at_most_lock_timeout_then_exit_3(tmp_path: Path) -> None:
    env = {**sqlite_default(tmp_path), "DATABASE_URL_FLAKY": f"sqlite:///{tmp_path}/flaky.db"}
    writer = sqlite3.connect(tmp_path / "flaky.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process's write transaction on the file
        result, took = timed("--lock-timeout", "1", env=env)
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 1 + SLACK, took
    assert "[flaky] LOCK TIMEOUT after" in result.stdout
    # (Here the first write is creating django_migrations.)
    assert "waited longer than --lock-timeout (1s) for a table lock another session holds: " in result.stdout
    assert "database is locked" in result.stdout
    again, _ = timed(env=env)
    assert again.returncode == 0, again.stdout + again.stderr


# -- MariaDB ---------------------------------------------------------------------------------------


def my_flaky(mariadb: MySQLDatabases, tmp_path: Path, query: str = "") -> tuple[dict[str, str], str]:
    name = mariadb.create("flaky")
    return {**sqlite_default(tmp_path), "DATABASE_URL_FLAKY": mariadb.url(name, query)}, name


def init_command(sql: str) -> str:
    return "init_command=" + quote(sql, safe="")


@pytest.mark.mysql
def test_mariadb_max_statement_time_does_not_cut_the_get_lock_wait(
    mariadb: MySQLDatabases, tmp_path: Path
) -> None:
    # One second: MariaDB's max_statement_time is in seconds, MySQL's max_execution_time in ms.
    limit = "max_statement_time=1" if mysql.is_mariadb() else "max_execution_time=1000"
    env, name = my_flaky(mariadb, tmp_path, init_command(f"SET SESSION {limit}"))
    holder = mysql._connect()
    try:
        cursor = holder.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", [mysql_lock_name(name)])
        assert cursor.fetchone() == (1,)
        waiting = start("--lock-timeout", "30", env=env)
        try:
            read_until(waiting, "[flaky] waiting for the MySQL GET_LOCK lock")
            time.sleep(2)
            cursor.execute("SELECT RELEASE_LOCK(%s)", [mysql_lock_name(name)])
            out, err = waiting.communicate(timeout=60)
        finally:
            kill_group(waiting)
    finally:
        holder.close()
    assert waiting.returncode == 0, out + err
    assert "[flaky] done: applied 3 migrations" in out
    assert names(mysql.migration_rows(name), "flaky") == FLAKY


@pytest.mark.mysql
def test_mariadb_wait_timeout_does_not_drop_the_lock_session(mariadb: MySQLDatabases, tmp_path: Path) -> None:
    # The server, not the client, is busy for 3 s (RELEASE_PROJECT_HOLD): the migration session is
    # active, the lock session idle for longer than wait_timeout.
    env, name = my_flaky(mariadb, tmp_path, init_command("SET SESSION wait_timeout=1"))
    copy = start("-v", "2", env={**env, "RELEASE_PROJECT_HOLD": "3"})
    try:
        read_until(copy, "applying flaky.0002_release_step")
        time.sleep(2)
        held = mysql.execute("SELECT IS_USED_LOCK(%s)", params=[mysql_lock_name(name)])
        assert held[0][0] is not None, "the server dropped the idle lock session"
        out, err = copy.communicate(timeout=60)
    finally:
        kill_group(copy)
    assert copy.returncode == 0, out + err
    assert names(mysql.migration_rows(name), "flaky") == FLAKY


@pytest.mark.mysql
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_mariadb_a_killed_copys_statement_holds_the_next_one_at_most_lock_timeout(
    mariadb: MySQLDatabases, tmp_path: Path
) -> None:
    env, name = my_flaky(mariadb, tmp_path)
    dead = start("-v", "2", env={**env, "RELEASE_PROJECT_HOLD": "60"})
    read_until(dead, "applying flaky.0002_release_step")

    def sleeping() -> list[tuple[object, ...]]:
        return mysql.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND info LIKE 'SELECT SLEEP%%'",
            params=[name],
        )

    wait_for(sleeping, what="the held statement")
    kill_group(dead)
    result, took = timed("--lock-timeout", "2", env=env)
    for (session,) in sleeping():
        mysql.execute(f"KILL {int(session)}")  # type: ignore[call-overload]
    assert result.returncode in (0, 3), result.stdout + result.stderr
    assert took < 2 + 2 + SLACK, took
    if result.returncode == 3:
        assert "[flaky] LOCK TIMEOUT after" in result.stdout
        assert (
            "waited longer than --lock-timeout (2s) for a table lock another session holds" in result.stdout
        )


@pytest.mark.mysql
def test_mariadb_a_table_lock_held_by_another_session_is_bounded_by_lock_timeout(
    mariadb: MySQLDatabases, tmp_path: Path
) -> None:
    env, name = my_flaky(mariadb, tmp_path)
    failed = migrate_all("--noinput", "--database", "flaky", env={**env, "RELEASE_PROJECT_FAIL": "1"})
    assert failed.returncode == 1  # flaky.0001 applied, flaky_marker exists
    other = mysql._connect(name)
    try:
        other.cursor().execute("LOCK TABLES flaky_marker WRITE")  # an application's lock
        result, took = timed("--lock-timeout", "2", env=env)
    finally:
        other.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 2 + SLACK, took
    assert (
        "in flaky.0002_release_step: waited longer than --lock-timeout (2s) for a table lock another "
        "session holds: OperationalError: (1205, 'Lock wait timeout exceeded; try restarting transaction')"
    ) in result.stdout
    assert names(mysql.migration_rows(name), "flaky") == ["flaky.0001_initial"]
