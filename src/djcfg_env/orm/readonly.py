"""Refuse writes to read-only aliases before any SQL is sent.

An alias whose URL has ``?read_only=true`` is in ``settings.READ_ONLY_DATABASES``.
Writes to it are refused at two levels:

1. The ORM's write entry points (``Model.save``/``create``, ``Model.delete``,
   ``QuerySet.update``/``delete``/``bulk_create``/``bulk_update``/
   ``get_or_create``/``update_or_create``, and so their async twins) check the
   alias the write would go to *before* doing anything, and raise
   :class:`ReadOnlyDatabaseError` naming the model and the alias. Nothing at
   all is sent to any database (no ``BEGIN``, no ``SELECT`` of related rows).
2. A connection execute wrapper on each read-only alias lets through only
   statements that cannot write or change the session's read-only state (an
   allowlist: :mod:`djcfg_env.orm.statements`), before they are sent: raw SQL,
   many-to-many changes, ``select_for_update()``'s row locks, psycopg composed
   SQL (rendered first) and anything else that reaches the connection without
   passing through (1). ``cursor.executescript`` (SQLite) and
   ``cursor.callproc``, which execute wrappers never see, are guarded on
   Django's cursor (:class:`~django.db.backends.utils.CursorWrapper`) too.

On PostgreSQL the session itself is read-only too
(``default_transaction_read_only=on``, set by :func:`djcfg_env.load`); on
SQLite each connection of a read-only alias gets ``PRAGMA query_only = ON``
when it opens, and an ``sqlite3`` authorizer that refuses, in SQLite itself,
any statement turning ``query_only`` off again (and ``ATTACH``), so even SQL
sent through the raw ``sqlite3`` connection cannot write.

``manage.py dbshell`` on a read-only alias opens a read-only session
(:mod:`djcfg_env.orm.dbshell`).

With ``django.contrib.admin`` installed, a model that lives on a read-only alias
is view-only in the admin: ``has_add_permission``, ``has_change_permission`` and
``has_delete_permission`` of ``BaseModelAdmin`` and ``InlineModelAdmin`` answer
``False`` for it (the view permission is untouched).

:data:`FEATURE` is the ``READ_ONLY_GUARD`` switch: installed by the switchboard
(:mod:`djcfg_env.orm.switches`) only when some alias is read-only, so a project
without one runs Django's own methods. ``READ_ONLY_GUARD: False`` removes both
levels, the SQLite pragma and authorizer and the ``dbshell`` change; the
PostgreSQL and MySQL/MariaDB session settings come from the URL
(``read_only=true``) and stay.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from contextlib import ContextDecorator
from typing import Any

from django.db import router
from django.db.backends.signals import connection_created
from django.db.models import Model, QuerySet

from ..env.schema import read_only_session
from ..exceptions import ReadOnlyDatabaseError
from . import dbshell, placement, statements
from .switches import Feature, Patch

__all__ = [
    "ReadOnlyDatabaseError",
    "FEATURE",
    "allow_writes",
    "ensure_writable",
    "guarded_aliases",
    "refuse_sql",
]

#: The read-only aliases while the guard is installed (empty otherwise).
_configured: frozenset[str] = frozenset()
#: alias -> how many allow_writes() blocks are open for it.
_lifted: Counter[str] = Counter()
#: The aliases writes are refused on right now: the configured ones, minus the lifted ones.
_guarded: frozenset[str] = frozenset()


def lifted(alias: str) -> bool:
    """Whether an :class:`allow_writes` block is open for ``alias``."""
    return alias in _lifted


def guarded_aliases() -> frozenset[str]:
    """The aliases writes are refused on right now (empty while the guard is off)."""
    return _guarded


def ensure_writable(model: type[Model], alias: str | None, operation: str) -> None:
    """Raise :class:`ReadOnlyDatabaseError` if ``alias`` is read-only.

    For code that writes on an alias it chose itself (e.g. a cross-database
    cascade): call it for every alias before writing to any.
    """
    if alias in _guarded:
        raise ReadOnlyDatabaseError(operation, model._meta.label, alias)


def _queryset_alias(queryset: QuerySet[Any]) -> str:
    # What QuerySet.db returns once _for_write is set, without setting it.
    return queryset._db or router.db_for_write(queryset.model, **queryset._hints)


def _guard_queryset(operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
            if _guarded:
                alias = _queryset_alias(self)
                if alias in _guarded:
                    raise ReadOnlyDatabaseError(operation, self.model._meta.label, alias)
            return original(self, *args, **kwargs)

        guarded.__name__ = guarded.__qualname__ = original.__name__
        guarded.__doc__ = original.__doc__
        return guarded

    return wrap


def _refuse_instance_write(instance: Model, using: str | None, operation: str) -> None:
    """Refuse ``operation`` on ``instance`` if it would go to a read-only alias."""
    alias = using or router.db_for_write(type(instance), instance=instance)
    if alias in _guarded:
        raise ReadOnlyDatabaseError(operation, instance._meta.label, alias)


def _guard_save_base(original: Callable[..., Any]) -> Callable[..., Any]:
    def save_base(self: Model, *args: Any, **kwargs: Any) -> Any:
        # save_base(self, raw, force_insert, force_update, using, update_fields): Django
        # passes keywords; ``using`` is the 4th positional one (see FEATURE's assumes).
        if _guarded:
            _refuse_instance_write(self, args[3] if len(args) > 3 else kwargs.get("using"), "save")
        return original(self, *args, **kwargs)

    save_base.__doc__ = original.__doc__
    return save_base


def _guard_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete(self: Model, *args: Any, **kwargs: Any) -> Any:
        # delete(self, using=None, keep_parents=False)
        if _guarded:
            _refuse_instance_write(self, args[0] if args else kwargs.get("using"), "delete")
        return original(self, *args, **kwargs)

    delete.__doc__ = original.__doc__
    return delete


_QUERYSET_WRITES = (
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
)


@functools.lru_cache(maxsize=1)
def _table_models() -> dict[str, str]:
    """Table name (lower-case) -> model label, for naming the model in raw-SQL refusals."""
    from django.apps import apps

    return {
        model._meta.db_table.lower(): model._meta.label
        for model in apps.get_models(include_auto_created=True)
    }


def _label(table: str | None) -> str | None:
    """The model label of ``table`` (lower-case), else the table itself."""
    return None if table is None else _table_models().get(table.split(".")[-1], table)


def _sql_text(connection: Any, sql: Any) -> str | None:
    """The text of ``sql`` as the server will get it; None when it cannot be read.

    psycopg's ``sql.Composable`` (``sql.SQL("DELETE FROM {}").format(...)``) is
    rendered for this connection first; bytes are decoded.
    """
    if isinstance(sql, str):
        return sql
    if isinstance(sql, (bytes, bytearray, memoryview)):
        return bytes(sql).decode("utf-8", errors="replace")
    as_string = getattr(sql, "as_string", None)
    if callable(as_string):
        try:
            text = as_string(connection.connection)
        except Exception:  # noqa: BLE001 - unreadable means refused, below
            return None
        return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    return None


def refuse_sql(connection: Any, sql: Any) -> None:
    """Raise :class:`ReadOnlyDatabaseError` unless every statement of ``sql`` is a read.

    What a read is: :mod:`djcfg_env.orm.statements`. The error names the
    statement kind and the model (else the table) it writes, never a literal.
    """
    text = _sql_text(connection, sql)
    if text is None:
        found: statements.Refusal | None = statements.Refusal(
            f"run a statement given as {type(sql).__name__}, which the read-only guard cannot read"
        )
    else:
        found = statements.refusal(text, connection.vendor)
    if found is not None:
        label = _label(found.table)
        operation = found.operation + (f" {found.preposition}" if label else "")
        raise ReadOnlyDatabaseError(operation, label, connection.alias)


def _sql_guard(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Execute wrapper for a read-only alias: refuse anything but reads before sending it."""
    connection = context["connection"]
    if connection.alias in _guarded:
        refuse_sql(connection, sql)
    return execute(sql, params, many, context)


def _guard_executescript(original: Any) -> Callable[..., Any]:
    """``CursorWrapper.executescript`` (new): SQLite's script runner, which execute wrappers never see.

    Django's cursor hands ``executescript`` straight to the ``sqlite3`` cursor;
    on a read-only alias each statement of the script is judged first.
    """

    def executescript(self: Any, sql_script: Any, *args: Any, **kwargs: Any) -> Any:
        if _guarded and self.db.alias in _guarded:
            refuse_sql(self.db, sql_script)
        return self.cursor.executescript(sql_script, *args, **kwargs)

    return executescript


def _guard_callproc(original: Callable[..., Any]) -> Callable[..., Any]:
    """``CursorWrapper.callproc``: a stored procedure may write; execute wrappers never see it."""

    def callproc(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _guarded and self.db.alias in _guarded:
            raise ReadOnlyDatabaseError("call a stored procedure", None, self.db.alias)
        return original(self, *args, **kwargs)

    callproc.__doc__ = original.__doc__
    return callproc


def _sqlite_authorizer(alias: str) -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    """An ``sqlite3`` authorizer for a read-only alias's connection.

    SQLite lets a session turn ``PRAGMA query_only`` off again (it is not a
    write), from any statement: ``executescript``, the raw driver connection.
    While the alias is guarded this refuses, in SQLite itself, every statement
    that would switch it off (``not authorized``) and ``ATTACH`` (which makes
    files).
    """
    import sqlite3

    def authorize(
        action: int, arg1: str | None, arg2: str | None, database: str | None, trigger: str | None
    ) -> int:
        if alias in _guarded:
            if action == sqlite3.SQLITE_ATTACH:
                return sqlite3.SQLITE_DENY
            if (
                action == sqlite3.SQLITE_PRAGMA
                and arg2 is not None
                and (arg1 or "").lower() == "query_only"
                and arg2.strip().strip("'\"").lower() not in ("on", "1", "true", "yes")
            ):
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


def _add_sql_guard(connection: Any) -> None:
    if connection.alias in _configured and _sql_guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(_sql_guard)


def _set_session(connection: Any, *, read_only: bool) -> None:
    """Make an open connection's session refuse (or accept) writes itself.

    SQLite: ``PRAGMA query_only``, SQLite's own counterpart of PostgreSQL's
    ``default_transaction_read_only``. PostgreSQL and MySQL/MariaDB: only where
    the alias's URL made the session read-only (``read_only=true``). Sent on the
    driver connection, not through Django's cursor, so no wrapper sees it.
    """
    raw = connection.connection
    if raw is None:
        return
    if connection.vendor == "sqlite":
        raw.execute(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
        return
    if not read_only_session(connection.settings_dict.get("OPTIONS") or {}):
        return
    if connection.vendor == "postgresql":
        statement = f"SET default_transaction_read_only = {'on' if read_only else 'off'}"
    elif connection.vendor == "mysql":
        statement = f"SET SESSION TRANSACTION {'READ ONLY' if read_only else 'READ WRITE'}"
    else:
        return
    with raw.cursor() as cursor:
        cursor.execute(statement)


def _guard_connection(connection: Any) -> None:
    """The connection-level guards, for a connection of a read-only alias."""
    _add_sql_guard(connection)
    if (
        connection.vendor == "sqlite"
        and connection.alias in _configured
        and connection.connection is not None
    ):
        connection.connection.set_authorizer(_sqlite_authorizer(connection.alias))
    if connection.alias in _guarded:
        if connection.vendor == "sqlite":
            _set_session(connection, read_only=True)
    elif connection.alias in _lifted:
        _set_session(connection, read_only=False)  # opened inside allow_writes()


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _guard_connection(connection)


def _connections_of(aliases: frozenset[str]) -> list[Any]:
    from django.db import connections

    return [connections[alias] for alias in aliases if alias in connections.settings]


def _recompute() -> None:
    global _guarded
    _guarded = _configured - frozenset(_lifted)


def _connect() -> None:
    """Start guarding: the read-only aliases of now, their new and already open connections."""
    global _configured
    _configured = placement.placement().read_only
    _recompute()
    _table_models.cache_clear()
    connection_created.connect(_on_connection_created, dispatch_uid="djcfg_env.readonly")
    for connection in _connections_of(_configured):
        if connection.connection is not None:
            _guard_connection(connection)


def _disconnect() -> None:
    """Stop guarding: no wrapper left on any connection, SQLite writable again."""
    global _configured
    connection_created.disconnect(dispatch_uid="djcfg_env.readonly")
    connections = _connections_of(_configured)
    _configured = frozenset()
    _recompute()  # first: the authorizer lets query_only go off once the alias is not guarded
    for connection in connections:
        if _sql_guard in connection.execute_wrappers:
            connection.execute_wrappers.remove(_sql_guard)
        if connection.vendor == "sqlite" and connection.connection is not None:
            connection.connection.execute("PRAGMA query_only = OFF")
            try:
                connection.connection.set_authorizer(None)
            except TypeError:  # Python 3.10: None is not accepted; the authorizer now allows all
                pass


class allow_writes(ContextDecorator):  # noqa: N801 - used like a function, as contextlib's are
    """Lift the read-only guard of one alias, for tests and fixtures that must fill it.

    ``with allow_writes("analytics"): ...`` (or ``@allow_writes("analytics")``):
    inside, writes to that alias go through (the ORM guard and the SQL guard let
    them pass, SQLite's ``PRAGMA query_only`` is off, and on PostgreSQL and
    MySQL/MariaDB the read-only session setting from ``read_only=true`` is
    lifted on its connection). On leaving, everything is refused again. Blocks
    nest. It affects the whole process (every thread), so keep it to tests,
    fixtures and one-off scripts.

    PostgreSQL cannot make a transaction that has already read something
    writable: inside ``atomic()``, enter ``allow_writes`` before the
    transaction's first query (under test, djcfg-env's test databases have no
    read-only session setting, so this never matters there).
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __enter__(self) -> allow_writes:
        from django.db import connections

        connection = connections[self.alias]  # an unknown alias raises ConnectionDoesNotExist
        _lifted[self.alias] += 1
        _recompute()
        if self.alias in placement.placement().read_only:
            _set_session(connection, read_only=False)
            if connection.vendor == "postgresql" and connection.in_atomic_block and connection.connection:
                if read_only_session(connection.settings_dict.get("OPTIONS") or {}):
                    with connection.connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION READ WRITE")
        return self

    def __exit__(self, *exc_info: object) -> None:
        from django.db import connections

        _lifted[self.alias] -= 1
        if _lifted[self.alias] <= 0:
            del _lifted[self.alias]
        _recompute()
        if self.alias in _lifted or self.alias not in placement.placement().read_only:
            return
        connection = connections[self.alias]
        if connection.vendor != "sqlite" or self.alias in _guarded:  # the pragma is the guard's
            _set_session(connection, read_only=True)


def _refuse_in_admin(original: Callable[..., Any]) -> Callable[..., Any]:
    """``has_add/change/delete_permission``: False for a model that lives on a read-only alias.

    So the admin shows such a model view-only (no add, change or delete buttons, no
    delete action) instead of answering a save with a 500.
    """

    def permission(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _guarded and placement.home_alias(self.model) in _guarded:
            return False
        return original(self, *args, **kwargs)

    permission.__name__ = permission.__qualname__ = original.__name__
    permission.__doc__ = original.__doc__
    return permission


def _model() -> type:
    return Model


def _model_admin() -> type:
    from django.contrib.admin.options import BaseModelAdmin

    return BaseModelAdmin


def _inline_admin() -> type:
    from django.contrib.admin.options import InlineModelAdmin

    return InlineModelAdmin


def _queryset() -> type:
    return QuerySet


def _cursor_wrapper() -> type:
    from django.db.backends.utils import CursorWrapper

    return CursorWrapper


FEATURE = Feature(
    key="READ_ONLY_GUARD",
    summary="Refuse every write to a read-only alias before any SQL is sent.",
    patches=(
        Patch(
            _model,
            "save_base",
            _guard_save_base,
            assumes=("self", "raw", "force_insert", "force_update", "using"),
        ),
        Patch(_model, "delete", _guard_delete, assumes=("self", "using")),
        *(Patch(_queryset, name, _guard_queryset(name)) for name in _QUERYSET_WRITES),
        *(
            Patch(owner, name, _refuse_in_admin, needs_app="django.contrib.admin")
            for owner in (_model_admin, _inline_admin)
            for name in ("has_add_permission", "has_change_permission", "has_delete_permission")
        ),
        Patch(_cursor_wrapper, "executescript", _guard_executescript),
        Patch(_cursor_wrapper, "callproc", _guard_callproc),
        *dbshell.PATCHES,
    ),
    needed=lambda: bool(placement.placement().read_only),
    connect=_connect,
    disconnect=_disconnect,
)
