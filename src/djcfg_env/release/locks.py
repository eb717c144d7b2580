"""Cross-process locks that let several ``migrate_all`` copies run at once safely.

When a release is retried, two releases race or several pods run an init step,
N copies of ``migrate_all`` start together. Each alias is migrated only while
its copy holds a lock *in or beside that database*, so one copy applies the
migrations and the others wait, then find nothing left to do:

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) with the
  fixed key :data:`POSTGRES_LOCK_KEY`, taken on a dedicated connection.
  Advisory locks are scoped to one database, so aliases on different databases
  never wait for each other. The server releases the lock when the session
  ends, so a copy killed with SIGKILL cannot leave it held.
- MySQL/MariaDB: ``GET_LOCK`` on a dedicated connection, named after the
  database (:func:`mysql_lock_name`); also released when the session ends.
- SQLite: an exclusive ``flock`` on ``<database file>.migrate_all.lock`` beside
  the database file; released by the kernel when the process dies. The lock
  file is left in place on purpose: deleting it would let two copies lock two
  different files.
- An in-memory SQLite database is private to its process and needs no lock;
  any other engine gets no lock (see :func:`lock_for`).

Every wait is bounded, whatever the server does and whatever the URL sets:

- the dedicated session connects with a connect timeout
  (:data:`DEFAULT_CONNECT_TIMEOUT` unless the URL sets one), which in libpq and
  libmysqlclient also covers a server that accepts TCP and never answers;
- the URL's ``statement_timeout`` / ``idle_in_transaction_session_timeout`` /
  ``idle_session_timeout`` (PostgreSQL), ``max_statement_time`` /
  ``max_execution_time`` / a short ``wait_timeout`` (MySQL/MariaDB) are switched
  off on the lock session: the wait follows ``--lock-timeout`` alone, and the
  session, idle for the whole migration, is never dropped by the server;
- a :class:`Watchdog` shuts the session's socket down when the server stops
  answering (the wait plus :data:`SERVER_GRACE` seconds), so the driver's
  blocking read returns (:class:`ServerNotAnswering`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

__all__ = [
    "LOCK_NAME",
    "POSTGRES_LOCK_KEY",
    "APPLICATION_NAME",
    "LOCK_APPLICATION_NAME",
    "DEFAULT_CONNECT_TIMEOUT",
    "SERVER_GRACE",
    "LockTimeout",
    "ServerNotAnswering",
    "Watchdog",
    "connection_options",
    "try_connect",
    "connect_bounded",
    "AliasLock",
    "PostgresLock",
    "MySQLLock",
    "FileLock",
    "NoLock",
    "lock_for",
    "mysql_lock_name",
    "sqlite_lock_path",
]

#: The name every lock is derived from.
LOCK_NAME = "djcfg_env.migrate_all"

#: The PostgreSQL advisory lock key (a signed 64-bit integer) ``migrate_all`` takes
#: in each database it migrates. Public so that other tools (or a test) can take
#: the same lock, e.g. ``SELECT pg_advisory_lock(<key>)`` to hold migrations back.
POSTGRES_LOCK_KEY: int = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)

#: PostgreSQL ``application_name`` of the sessions ``migrate_all`` migrates on: how a
#: later copy recognises the statement a killed copy left running (see
#: :func:`djcfg_env.release.run`), and how ``pg_stat_activity`` shows them.
APPLICATION_NAME = "djcfg_env migrate_all"
#: ``application_name`` of the dedicated sessions that hold the PostgreSQL lock.
LOCK_APPLICATION_NAME = "djcfg_env migrate_all lock"

#: Seconds a connection attempt of ``migrate_all`` may take when the URL sets no
#: ``connect_timeout`` (PostgreSQL, MySQL/MariaDB): a server that accepts TCP and
#: never answers is given up on after this long (exit 3), instead of hanging.
DEFAULT_CONNECT_TIMEOUT = 10
#: libpq's smallest useful ``connect_timeout`` (it raises anything below 2 to 2).
MIN_CONNECT_TIMEOUT = 2
#: Seconds a lock session's server may stay silent beyond the wait it was asked
#: for before :class:`Watchdog` gives up on it.
SERVER_GRACE = 5.0

# Polling back-off for the locks that cannot block with a timeout.
_FIRST_DELAY = 0.02
_MAX_DELAY = 0.25


class LockTimeout(Exception):
    """Another copy held the lock for longer than the time we were allowed to wait."""

    def __init__(self, description: str, waited: float) -> None:
        self.description = description
        self.waited = waited
        super().__init__(
            f"could not obtain the {description} within {waited:g}s: another copy of "
            "migrate_all (or another tool holding the same lock) is still migrating this "
            "database; let it finish and run migrate_all again, or raise --lock-timeout."
        )


class ServerNotAnswering(Exception):
    """The database server stopped answering a statement that should have returned by now."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(
            f"the database server accepted the connection but did not answer {what} within "
            f"{seconds:g}s; gave up on it (is the server overloaded, or a proxy in front of it "
            "stuck?)"
        )


def _socket_fd(connection: BaseDatabaseWrapper) -> int | None:
    """The file descriptor of a connected wrapper's socket (psycopg, psycopg2, mysqlclient)."""
    raw = getattr(connection, "connection", None)
    fileno = getattr(raw, "fileno", None)
    if not callable(fileno):
        return None
    try:
        return int(fileno())
    except Exception:  # noqa: BLE001 - closed, or a driver without a socket
        return None


class Watchdog:
    """Shuts a connection's socket down when a statement outlives ``seconds``.

    A server (or a proxy) that accepted the connection and then stops answering
    leaves the driver blocked in ``recv()`` forever: no server-side timeout can
    fire. Shutting the socket down from a timer thread makes that read return,
    and the driver raises; :attr:`fired` tells the caller why. Used as
    ``with Watchdog(connection, seconds, "the lock request"): ...``.
    """

    def __init__(self, connection: BaseDatabaseWrapper, seconds: float, what: str) -> None:
        self.connection = connection
        self.seconds = seconds
        self.what = what
        self.fired = False
        self._timer: threading.Timer | None = None

    def _fire(self) -> None:
        fd = _socket_fd(self.connection)
        if fd is None:
            return
        self.fired = True
        try:
            duplicate = os.dup(fd)
        except OSError:
            return
        try:
            with socket.socket(fileno=duplicate) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> Watchdog:
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.fired:
            # The socket is shut down: whatever the statement returned, the session is gone.
            raise ServerNotAnswering(self.what, self.seconds) from None


def connection_options(
    vendor: str,
    options: Mapping[str, Any] | None,
    *,
    connect_timeout: float | None = None,
    application_name: str | None = None,
) -> dict[str, Any]:
    """A copy of an alias's ``OPTIONS`` for a ``migrate_all`` connection.

    ``connect_timeout``: the attempt's bound in seconds (whole seconds, at least
    :data:`MIN_CONNECT_TIMEOUT`); None keeps the URL's own ``connect_timeout`` or
    else uses :data:`DEFAULT_CONNECT_TIMEOUT`. ``application_name`` (PostgreSQL
    only) names the session in ``pg_stat_activity``. Other engines: unchanged.
    """
    result = dict(options or {})
    if vendor not in ("postgresql", "mysql"):
        return result
    if connect_timeout is not None:
        result["connect_timeout"] = max(MIN_CONNECT_TIMEOUT, math.ceil(connect_timeout))
    elif not result.get("connect_timeout"):
        result["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if vendor == "postgresql" and application_name:
        result["application_name"] = application_name
    return result


class AliasLock:
    """The lock for one database. Use :meth:`acquire` then :meth:`release`.

    Subclasses implement :meth:`_try` (take the lock without waiting) and may
    override :meth:`_wait` (wait up to ``seconds`` for it) when the database
    can block with a timeout itself; the default polls :meth:`_try` with
    back-off. :meth:`release` must be safe to call in every state.
    """

    #: Human-readable, e.g. "PostgreSQL advisory lock": used in messages.
    description = "migration lock"

    def acquire(self, timeout: float, on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds for another holder.

        Returns True when the lock was free at once and False when this copy had
        to wait (so the caller knows someone else may have done the work).
        ``on_wait`` is called once, before waiting. Raises :class:`LockTimeout`,
        or :class:`ServerNotAnswering` when the server stops answering.
        """
        try:
            with self._guard(SERVER_GRACE, "the lock request"):
                if self._try():
                    return True
        except ServerNotAnswering:
            self.release()
            raise
        if on_wait is not None:
            on_wait()
        started = time.monotonic()
        timeout = max(timeout, 0.0)
        try:
            with self._guard(timeout + SERVER_GRACE, "the lock request"):
                obtained = self._wait(timeout)
        except ServerNotAnswering:
            self.release()
            raise
        if not obtained:
            self.release()
            raise LockTimeout(self.description, round(time.monotonic() - started, 1))
        return False

    def _guard(self, seconds: float, what: str) -> contextlib.AbstractContextManager[object]:
        """A bound on how long the server may take to answer (none for local locks)."""
        return contextlib.nullcontext()

    def _try(self) -> bool:
        raise NotImplementedError

    def _wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        delay = _FIRST_DELAY
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)
            if self._try():
                return True

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> AliasLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class NoLock(AliasLock):
    """For databases no other process can see (in-memory SQLite) or engines without a lock."""

    description = "no lock"

    def _try(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _dedicated_connection(
    connection: BaseDatabaseWrapper,
    *,
    connect_timeout: float | None = None,
    application_name: str | None = LOCK_APPLICATION_NAME,
) -> BaseDatabaseWrapper:
    """A new connection to the same database, outside any pool, for holding a lock.

    The lock lives on its own session so that nothing the migrations do to their
    connection (a rollback, a reconnect) can release it early, and so that a
    pooled connection is never handed back to the pool still holding it. It
    connects within ``connect_timeout`` (see :func:`connection_options`).
    """
    settings_dict: dict[str, Any] = copy.deepcopy(connection.settings_dict)
    options = connection_options(
        connection.vendor,
        settings_dict.get("OPTIONS"),
        connect_timeout=connect_timeout,
        application_name=application_name,
    )
    options.pop("pool", None)
    # The lock's wait is bounded by --lock-timeout and a Watchdog, not by a read timeout.
    options.pop("read_timeout", None)
    settings_dict["OPTIONS"] = options
    settings_dict["CONN_MAX_AGE"] = 0
    backend = load_backend(settings_dict["ENGINE"])
    wrapper: BaseDatabaseWrapper = backend.DatabaseWrapper(settings_dict, connection.alias)
    try:
        connect_bounded(wrapper)
    except BaseException:
        _close_quietly(wrapper)
        raise
    return wrapper


def _close_quietly(wrapper: BaseDatabaseWrapper) -> None:
    try:
        wrapper.close()
    except DatabaseError:
        pass


def connect_bounded(connection: BaseDatabaseWrapper) -> None:
    """``connection.ensure_connection()``, given up on when the server stops answering.

    The driver's connect timeout bounds the handshake; Django then runs its own
    set-up queries on the new session (time zone, server version), which a server
    (or proxy) that stops answering right after the handshake would leave blocked:
    a :class:`Watchdog` of the connect timeout plus :data:`SERVER_GRACE` bounds the
    whole. Raises the driver's error or :class:`ServerNotAnswering`.
    """
    options = connection.settings_dict.get("OPTIONS") or {}
    try:
        timeout = float(options.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
    except (TypeError, ValueError):
        timeout = float(DEFAULT_CONNECT_TIMEOUT)
    with Watchdog(connection, max(timeout, MIN_CONNECT_TIMEOUT) + SERVER_GRACE, "the connection's set-up"):
        connection.ensure_connection()


class _ServerLock(AliasLock):
    """A lock held by a dedicated session on the database server."""

    _connection: BaseDatabaseWrapper | None

    def _open(self, connection: BaseDatabaseWrapper, settings: list[str]) -> None:
        """Connect the dedicated session, then run ``settings`` on it (bounded by a Watchdog)."""
        self._connection = _dedicated_connection(connection)
        self._held = False
        try:
            with self._guard(SERVER_GRACE, "the lock session's set-up"), self._connection.cursor() as cursor:
                for statement in settings:
                    cursor.execute(statement)
        except BaseException:
            self.release()
            raise

    def _guard(self, seconds: float, what: str) -> contextlib.AbstractContextManager[object]:
        if self._connection is None:
            return contextlib.nullcontext()
        return Watchdog(self._connection, seconds, what)


class PostgresLock(_ServerLock):
    """``pg_advisory_lock(POSTGRES_LOCK_KEY)`` on a dedicated session.

    The session switches off the URL's ``statement_timeout`` (which would cancel
    the wait) and the idle timeouts (the session sits idle while the migrations
    run, and dropping it would drop the lock).
    """

    description = "PostgreSQL advisory lock"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        settings = ["SET statement_timeout = 0", "SET idle_in_transaction_session_timeout = 0"]
        self._connection = None
        self._held = False
        self._open(connection, settings)
        assert self._connection is not None
        if int(getattr(self._connection, "pg_version", 0) or 0) >= 140000:
            with self._guard(SERVER_GRACE, "the lock session's set-up"), self._connection.cursor() as cursor:
                cursor.execute("SET idle_session_timeout = 0")

    def _try(self) -> bool:
        assert self._connection is not None
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
            self._held = bool(cursor.fetchone()[0])
        return self._held

    def _wait(self, seconds: float) -> bool:
        # Block in the server (woken the moment the holder lets go) with
        # lock_timeout bounding the wait; SQLSTATE 55P03 means it ran out.
        assert self._connection is not None
        milliseconds = max(1, int(seconds * 1000))
        with self._connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
            except DatabaseError as error:
                cause = error.__cause__
                code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
                if code == "55P03":
                    return False
                raise
            finally:
                try:
                    cursor.execute("SET lock_timeout = 0")
                except DatabaseError:
                    pass
        self._held = True
        return True

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._held:
                with Watchdog(connection, SERVER_GRACE, "the lock release"), connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [POSTGRES_LOCK_KEY])
        except (DatabaseError, ServerNotAnswering):
            pass  # closing the session below releases it anyway
        finally:
            self._held = False
            connection.close()


def mysql_lock_name(database_name: str) -> str:
    """The ``GET_LOCK`` name for one database (MySQL limits names to 64 characters).

    ``GET_LOCK`` names are server-wide, so the database name is part of it.
    """
    digest = hashlib.sha256(database_name.encode()).hexdigest()[:32]
    return f"{LOCK_NAME}.{digest}"


#: The longest ``wait_timeout`` MySQL and MariaDB accept (a year): the lock session
#: sits idle while the migrations run, and the server must not drop it meanwhile.
MYSQL_MAX_WAIT_TIMEOUT = 31536000


class MySQLLock(_ServerLock):
    """``GET_LOCK(name, timeout)`` on a dedicated session (MySQL and MariaDB).

    The session switches off the URL's ``max_statement_time`` (MariaDB) or
    ``max_execution_time`` (MySQL), either of which would end the wait early,
    and raises ``wait_timeout`` so the idle session outlives the migrations.
    """

    description = "MySQL GET_LOCK lock"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self._name = mysql_lock_name(str(connection.settings_dict.get("NAME") or ""))
        self._connection = None
        self._held = False
        limit = (
            "max_statement_time" if getattr(connection, "mysql_is_mariadb", False) else "max_execution_time"
        )
        self._open(
            connection,
            [f"SET SESSION {limit} = 0", f"SET SESSION wait_timeout = {MYSQL_MAX_WAIT_TIMEOUT}"],
        )

    def _get(self, seconds: float) -> bool:
        assert self._connection is not None
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", [self._name, seconds])
            self._held = cursor.fetchone()[0] == 1
        return self._held

    def _try(self) -> bool:
        return self._get(0)

    def _wait(self, seconds: float) -> bool:
        # GET_LOCK's timeout is whole seconds on older servers: round up.
        return self._get(max(1, int(seconds + 0.999)))

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._held:
                with Watchdog(connection, SERVER_GRACE, "the lock release"), connection.cursor() as cursor:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [self._name])
        except (DatabaseError, ServerNotAnswering):
            pass
        finally:
            self._held = False
            connection.close()


def sqlite_lock_path(database: str | os.PathLike[str]) -> Path:
    """The lock file for an SQLite database file: beside it, ``<file>.migrate_all.lock``."""
    path = Path(database)
    return path.with_name(f"{path.name}.migrate_all.lock")


class FileLock(AliasLock):
    """An exclusive lock on a file, across processes (``flock``; ``msvcrt`` on Windows)."""

    description = "SQLite lock file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock on {path.name}"
        self._file: IO[bytes] | None = None

    def _try(self) -> bool:
        if self._file is None:
            self._file = open(self.path, "a+b")  # noqa: SIM115 - held until release()
        try:
            _lock_file(self._file)
        except OSError:
            return False
        return True

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            _unlock_file(handle)
        except OSError:
            pass
        finally:
            handle.close()


try:
    import fcntl

    def _lock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

    def _unlock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def _sqlite_file(connection: BaseDatabaseWrapper) -> str | None:
    """The database file of an SQLite connection, or None for an in-memory database."""
    name = connection.settings_dict.get("NAME")
    if not name:
        return None
    text = str(name)
    is_in_memory = getattr(connection, "is_in_memory_db", None)
    if callable(is_in_memory) and is_in_memory():
        return None
    if text == ":memory:" or "mode=memory" in text:
        return None
    if text.startswith("file:"):
        text = text[len("file:") :].split("?", 1)[0]
    return text


def lock_for(connection: BaseDatabaseWrapper) -> AliasLock:
    """The lock that serialises migrations of ``connection``'s database.

    Opens what the lock needs (a dedicated connection, a lock file); the caller
    must call :meth:`AliasLock.release`. May raise the database's connection
    errors. Engines other than PostgreSQL, MySQL/MariaDB and SQLite get
    :class:`NoLock`: run one copy at a time there.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        return PostgresLock(connection)
    if vendor == "mysql":
        return MySQLLock(connection)
    if vendor == "sqlite":
        database = _sqlite_file(connection)
        if database is None:
            return NoLock()
        return FileLock(sqlite_lock_path(database))
    return NoLock()


def try_connect(connection: BaseDatabaseWrapper, seconds: float) -> None:
    """One bounded connection attempt to ``connection``'s database, on a throwaway session.

    Connects with a connect timeout of ``seconds`` (whole seconds, at least
    :data:`MIN_CONNECT_TIMEOUT`), then runs ``SELECT 1`` under a :class:`Watchdog`
    (a server that completes the handshake and then stops answering), and closes
    the session. Raises the driver's error or :class:`ServerNotAnswering`.
    ``connection`` itself (its settings included) is left untouched.
    """
    wrapper = _dedicated_connection(connection, connect_timeout=seconds, application_name=APPLICATION_NAME)
    try:
        bound = max(float(MIN_CONNECT_TIMEOUT), seconds)
        with Watchdog(wrapper, bound, "a first query"), wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        _close_quietly(wrapper)
