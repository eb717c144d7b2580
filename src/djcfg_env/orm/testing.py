"""Test databases for every alias, read-only ones included (the ``TEST_DATABASES`` switch).

Django's test runner (and pytest-django) creates a test database for every
alias and migrates it. For a read-only alias that fails twice over: the
connection that runs ``CREATE DATABASE`` carries the read-only session setting
(``default_transaction_read_only=on`` on PostgreSQL, ``SET SESSION TRANSACTION
READ ONLY`` on MySQL/MariaDB), and ``migrate`` must create ``django_migrations``
on an alias that refuses every write. And a run that fails while creating one
test database leaves the ones it already created behind.

While this feature is on, ``BaseDatabaseCreation`` does, for a read-only alias:

* ``create_test_db``: the database is created (and ``--keepdb``/``--reuse-db``
  kept) without the read-only session setting, and nothing is migrated on it,
  as in production; the tests fill it with :func:`djcfg_env.allow_writes`.
  For the rest of the test run its connections have no read-only session
  setting: the read-only guard refuses every write, and ``allow_writes`` lifts
  it without fighting PostgreSQL's transaction rules.
* ``clone_test_db`` (Django's ``--parallel``) and ``destroy_test_db``: run
  without the read-only session setting, which is put back afterwards.

For every alias, ``destroy_test_db`` first closes the mirrors' connections to
the database it drops (PostgreSQL refuses to drop a database in use, and the
teardown would stop there, leaving the other test databases behind).

For every alias, ``create_test_db`` that fails drops the test databases this
process created before it (unless they were kept with ``keepdb``), and the one
it was creating, then raises the error.

A mirror (``test_mirror``) of an in-memory SQLite test database shares its
primary's cache, where SQLite locks whole tables: inside a ``TestCase`` (one
open transaction on the primary) every read through the mirror would fail
with "database table is locked". Its connections read with
``PRAGMA read_uncommitted = 1``, so the mirror sees what the test wrote, as a
mirror of a database with its own transaction-free replica would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db.backends.base.creation import BaseDatabaseCreation
from django.db.backends.signals import connection_created

from ..env.schema import read_only_session, without_read_only_session
from .placement import placement
from .switches import Feature, Patch, Private

__all__ = ["FEATURE"]

#: alias -> the OPTIONS it had before its test database was made (restored when destroyed).
_options_before: dict[str, dict[str, Any]] = {}
#: (creation, the database's name before its test database, keepdb) for each test
#: database this process made and has not destroyed yet, in order.
_made: list[tuple[BaseDatabaseCreation, str, bool]] = []


def _read_only(creation: BaseDatabaseCreation) -> bool:
    return creation.connection.alias in placement().read_only


def _set_options(creation: BaseDatabaseCreation, options: dict[str, Any]) -> None:
    """New OPTIONS for the alias (its open connection is closed: the next one uses them)."""
    connection = creation.connection
    connection.close()
    connection.settings_dict["OPTIONS"] = options
    if connection.alias in settings.DATABASES:
        settings.DATABASES[connection.alias]["OPTIONS"] = options


@contextlib.contextmanager
def _writable_session(creation: BaseDatabaseCreation) -> Iterator[None]:
    """Connections made inside (the ``_nodb_cursor`` one included) have no read-only session setting."""
    options = creation.connection.settings_dict.get("OPTIONS") or {}
    if not read_only_session(options):
        yield
        return
    _set_options(creation, without_read_only_session(options))
    try:
        yield
    finally:
        _set_options(creation, options)


def _keepdb(args: tuple[Any, ...], kwargs: dict[str, Any], position: int) -> bool:
    return bool(args[position] if len(args) > position else kwargs.get("keepdb", False))


def _create_read_only(creation: BaseDatabaseCreation, verbosity: int, autoclobber: bool, keepdb: bool) -> str:
    """Django's create_test_db without migrate (and so without serialising or cache tables)."""
    connection = creation.connection
    name = creation._get_test_db_name()
    if verbosity >= 1:
        action = "Using existing" if keepdb else "Creating"
        shown = creation._get_database_display_str(verbosity, name)
        creation.log(f"{action} test database for alias {shown} (read-only: nothing is migrated there)...")
    creation._create_test_db(verbosity, autoclobber, keepdb)
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()
    return name


def _drop_made(verbosity: int) -> None:
    """Drop the test databases made so far (not the kept ones), newest first."""
    while _made:
        creation, old_name, keepdb = _made.pop()
        if keepdb:
            continue
        with contextlib.suppress(Exception):  # the original error is the one to report
            creation.destroy_test_db(old_name, verbosity=verbosity, keepdb=False)


def _create_test_db(original: Callable[..., Any]) -> Callable[..., Any]:
    # create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False)
    def create_test_db(self: BaseDatabaseCreation, *args: Any, **kwargs: Any) -> Any:
        alias = self.connection.alias
        old_name = self.connection.settings_dict["NAME"]
        keepdb = _keepdb(args, kwargs, 3)
        verbosity = int(args[0] if args else kwargs.get("verbosity", 1))
        try:
            if _read_only(self):
                autoclobber = bool(args[1] if len(args) > 1 else kwargs.get("autoclobber", False))
                _options_before.setdefault(alias, self.connection.settings_dict.get("OPTIONS") or {})
                _set_options(self, without_read_only_session(_options_before[alias]))
                name = _create_read_only(self, verbosity, autoclobber, keepdb)
            else:
                name = original(self, *args, **kwargs)
        except BaseException:
            if self.connection.settings_dict["NAME"] != old_name:  # this one was made, then failed
                _made.append((self, old_name, keepdb))
            _drop_made(verbosity)
            if alias in _options_before:
                _set_options(self, _options_before.pop(alias))
            raise
        _made.append((self, old_name, keepdb))
        return name

    return create_test_db


def _clone_test_db(original: Callable[..., Any]) -> Callable[..., Any]:
    # clone_test_db(self, suffix, verbosity=1, autoclobber=False, keepdb=False)
    def clone_test_db(self: BaseDatabaseCreation, *args: Any, **kwargs: Any) -> Any:
        with _writable_session(self):
            return original(self, *args, **kwargs)

    return clone_test_db


def _close_mirrors(creation: BaseDatabaseCreation) -> None:
    """Close the other connections to this test database (its mirrors), or DROP DATABASE fails.

    A ``TestCase`` with ``databases = "__all__"`` opens the mirror's connection
    (to check constraints) and nothing closes it before the teardown.
    """
    from django.db import connections

    name = creation.connection.settings_dict["NAME"]
    for other in connections.all(initialized_only=True):
        if other is not creation.connection and other.settings_dict.get("NAME") == name:
            other.close()


def _destroy_test_db(original: Callable[..., Any]) -> Callable[..., Any]:
    # destroy_test_db(self, old_database_name=None, verbosity=1, keepdb=False, suffix=None)
    def destroy_test_db(self: BaseDatabaseCreation, *args: Any, **kwargs: Any) -> Any:
        alias = self.connection.alias
        suffix = args[3] if len(args) > 3 else kwargs.get("suffix")
        if suffix is None:
            _made[:] = [made for made in _made if made[0] is not self]
        before = _options_before.pop(alias, None) if suffix is None else None
        _close_mirrors(self)
        try:
            with _writable_session(self):
                return original(self, *args, **kwargs)
        finally:
            if before is not None:
                _set_options(self, before)

    return destroy_test_db


def _read_uncommitted_mirror(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: see the module's last paragraph."""
    if (
        connection.vendor == "sqlite"
        and (connection.settings_dict.get("TEST") or {}).get("MIRROR")
        and connection.is_in_memory_db()
    ):
        connection.connection.execute("PRAGMA read_uncommitted = 1")


def _connect() -> None:
    connection_created.connect(_read_uncommitted_mirror, dispatch_uid="djcfg_env.testing.mirror")


def _disconnect() -> None:
    connection_created.disconnect(dispatch_uid="djcfg_env.testing.mirror")


def _creation() -> type:
    return BaseDatabaseCreation


FEATURE = Feature(
    key="TEST_DATABASES",
    summary="Make and drop test databases for read-only aliases too, and clean up after a failed setup.",
    patches=(
        Patch(_creation, "create_test_db", _create_test_db,
              assumes=("self", "verbosity", "autoclobber", "serialize", "keepdb")),
        Patch(_creation, "clone_test_db", _clone_test_db),
        Patch(_creation, "destroy_test_db", _destroy_test_db,
              assumes=("self", "old_database_name", "verbosity", "keepdb", "suffix")),
    ),
    connect=_connect,
    disconnect=_disconnect,
    private=(
        Private(_creation, "_create_test_db", ("self", "verbosity", "autoclobber", "keepdb")),
        Private(_creation, "_get_test_db_name", ("self",)),
        Private(_creation, "_get_database_display_str", ("self", "verbosity", "database_name")),
    ),
)
