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
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

__all__ = [
    "LOCK_NAME",
    "POSTGRES_LOCK_KEY",
    "LockTimeout",
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
POSTGRES_LOCK_KEY: int = int.from_bytes(
    hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True
)

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
        ``on_wait`` is called once, before waiting. Raises :class:`LockTimeout`.
        """
        if self._try():
            return True
        if on_wait is not None:
            on_wait()
        started = time.monotonic()
        if not self._wait(max(timeout, 0.0)):
            self.release()
            raise LockTimeout(self.description, round(time.monotonic() - started, 1))
        return False

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


def _dedicated_connection(connection: BaseDatabaseWrapper) -> BaseDatabaseWrapper:
    """A new connection to the same database, outside any pool, for holding a lock.

    The lock lives on its own session so that nothing the migrations do to their
    connection (a rollback, a reconnect) can release it early, and so that a
    pooled connection is never handed back to the pool still holding it.
    """
    settings_dict: dict[str, Any] = copy.deepcopy(connection.settings_dict)
    options = dict(settings_dict.get("OPTIONS") or {})
    options.pop("pool", None)
    settings_dict["OPTIONS"] = options
    settings_dict["CONN_MAX_AGE"] = 0
    backend = load_backend(settings_dict["ENGINE"])
    wrapper: BaseDatabaseWrapper = backend.DatabaseWrapper(settings_dict, connection.alias)
    wrapper.ensure_connection()
    return wrapper


class PostgresLock(AliasLock):
    """``pg_advisory_lock(POSTGRES_LOCK_KEY)`` on a dedicated session."""

    description = "PostgreSQL advisory lock"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self._connection: BaseDatabaseWrapper | None = _dedicated_connection(connection)
        self._held = False

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
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [POSTGRES_LOCK_KEY])
        except DatabaseError:
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


class MySQLLock(AliasLock):
    """``GET_LOCK(name, timeout)`` on a dedicated session (MySQL and MariaDB)."""

    description = "MySQL GET_LOCK lock"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self._name = mysql_lock_name(str(connection.settings_dict.get("NAME") or ""))
        self._connection: BaseDatabaseWrapper | None = _dedicated_connection(connection)
        self._held = False

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
                with connection.cursor() as cursor:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [self._name])
        except DatabaseError:
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
