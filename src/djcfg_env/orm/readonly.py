"""Refuse writes to read-only aliases before any SQL is sent.

An alias whose URL has ``?read_only=true`` is in ``settings.READ_ONLY_DATABASES``.
Writes to it are refused at two levels:

1. The ORM's write entry points (``Model.save``/``create``, ``Model.delete``,
   ``QuerySet.update``/``delete``/``bulk_create``/``bulk_update``/
   ``get_or_create``/``update_or_create``, and so their async twins) check the
   alias the write would go to *before* doing anything, and raise
   :class:`ReadOnlyDatabaseError` naming the model and the alias. Nothing at
   all is sent to any database (no ``BEGIN``, no ``SELECT`` of related rows).
2. A connection execute wrapper on each read-only alias refuses any statement
   that writes (``INSERT``, ``UPDATE``, ``DELETE``, ``CREATE``, ``ALTER``,
   ``DROP``, ...) or locks rows (``select_for_update()``'s ``SELECT ... FOR
   UPDATE``) before it is sent: raw SQL, many-to-many changes and anything
   else that reaches the connection without passing through (1).

On PostgreSQL the session itself is read-only too
(``default_transaction_read_only=on``, set by :func:`djcfg_env.load`); on
SQLite each connection of a read-only alias gets ``PRAGMA query_only = ON``
when it opens, so a write the SQL guard cannot recognise (a ``PRAGMA x = y``,
``VACUUM``, a statement hidden behind something unusual) is refused by SQLite
itself.

With ``django.contrib.admin`` installed, a model that lives on a read-only alias
is view-only in the admin: ``has_add_permission``, ``has_change_permission`` and
``has_delete_permission`` of ``BaseModelAdmin`` and ``InlineModelAdmin`` answer
``False`` for it (the view permission is untouched).

:data:`FEATURE` is the ``READ_ONLY_GUARD`` switch: installed by the switchboard
(:mod:`djcfg_env.orm.switches`) only when some alias is read-only, so a project
without one runs Django's own methods. ``READ_ONLY_GUARD: False`` removes both
levels and the SQLite pragma; the PostgreSQL session setting comes from the URL
(``read_only=true``) and stays.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from contextlib import ContextDecorator
from typing import Any

from django.db import router
from django.db.backends.signals import connection_created
from django.db.models import Model, QuerySet

from ..env.schema import read_only_session
from ..exceptions import ReadOnlyDatabaseError
from . import placement
from .switches import Feature, Patch

__all__ = ["ReadOnlyDatabaseError", "FEATURE", "allow_writes", "ensure_writable", "guarded_aliases"]

#: The read-only aliases while the guard is installed (empty otherwise).
_configured: frozenset[str] = frozenset()
#: alias -> how many allow_writes() blocks are open for it.
_lifted: Counter[str] = Counter()
#: The aliases writes are refused on right now: the configured ones, minus the lifted ones.
_guarded: frozenset[str] = frozenset()

#: Leading whitespace and comments (``/* ... */`` and ``-- ...`` lines) before a statement.
_LEADING = r"(?:\s|/\*.*?\*/|--[^\n]*(?:\n|\Z))*"
_WRITE_SQL = re.compile(
    _LEADING + r"(INSERT|UPDATE|DELETE|REPLACE|MERGE|UPSERT|CREATE|ALTER|DROP|"
    r"TRUNCATE|GRANT|REVOKE|RENAME|COMMENT\s+ON|VACUUM|REINDEX|CLUSTER|REFRESH|CALL|LOCK|"
    r"ATTACH|DETACH)\b",
    re.IGNORECASE | re.DOTALL,
)
#: ``WITH ...`` whose main statement, or one of whose CTEs, writes:
#: ``WITH x AS (...) DELETE FROM t`` or ``WITH d AS (DELETE FROM t RETURNING *) SELECT ...``.
_WITH_SQL = re.compile(_LEADING + r"WITH\b", re.IGNORECASE | re.DOTALL)
_WITH_WRITE = re.compile(
    r"\)\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE)\b"
    r"|\bAS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(\s*(INSERT|UPDATE|DELETE|MERGE)\b",
    re.IGNORECASE,
)
#: A row lock (``SELECT ... FOR UPDATE``, ``FOR NO KEY UPDATE``, ``FOR SHARE``, ``FOR KEY SHARE``):
#: what ``select_for_update()`` sends, a write intent a read-only alias cannot honour.
_LOCK_SQL = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)
_TABLE = re.compile(
    r"\b(?:INTO|UPDATE|FROM|TABLE|ON)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?[\"`\[]?([\w.]+)",
    re.IGNORECASE,
)


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


def _model_in(sql: str, start: int = 0) -> str | None:
    """The model label (else the table) a statement names first from ``start``, if any."""
    table = _TABLE.search(sql, start)
    if table is None:
        return None
    name = table.group(1).strip("\"`[]").lower()
    return _table_models().get(name, name)


def _sql_guard(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Execute wrapper for a read-only alias: refuse writes and row locks before sending them."""
    alias = context["connection"].alias
    if alias in _guarded and isinstance(sql, str):
        match = _WRITE_SQL.match(sql)
        if match is None and _WITH_SQL.match(sql):
            match = _WITH_WRITE.search(sql)
        if match:
            group = 1 if match.group(1) else 2
            label = _model_in(sql, match.start(group))
            verb = " ".join(match.group(group).upper().split())
            article = "an" if verb[0] in "AEIOU" else "a"
            operation = f"run {article} {verb} statement" + (" for" if label else "")
            raise ReadOnlyDatabaseError(operation, label, alias)
        if _LOCK_SQL.search(sql):
            label = _model_in(sql)
            operation = "lock rows with SELECT ... FOR UPDATE" + (" of" if label else "")
            raise ReadOnlyDatabaseError(operation, label, alias)
    return execute(sql, params, many, context)


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
    for connection in _connections_of(_configured):
        if _sql_guard in connection.execute_wrappers:
            connection.execute_wrappers.remove(_sql_guard)
        if connection.vendor == "sqlite" and connection.connection is not None:
            connection.connection.execute("PRAGMA query_only = OFF")
    _configured = frozenset()
    _recompute()


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


FEATURE = Feature(
    key="READ_ONLY_GUARD",
    summary="Refuse every write to a read-only alias before any SQL is sent.",
    patches=(
        Patch(_model, "save_base", _guard_save_base,
              assumes=("self", "raw", "force_insert", "force_update", "using")),
        Patch(_model, "delete", _guard_delete, assumes=("self", "using")),
        *(Patch(_queryset, name, _guard_queryset(name)) for name in _QUERYSET_WRITES),
        *(
            Patch(owner, name, _refuse_in_admin, needs_app="django.contrib.admin")
            for owner in (_model_admin, _inline_admin)
            for name in ("has_add_permission", "has_change_permission", "has_delete_permission")
        ),
    ),
    needed=lambda: bool(placement.placement().read_only),
    connect=_connect,
    disconnect=_disconnect,
)
