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

:func:`install` is idempotent and is called by ``AppDatabaseRouter()`` (and may
be called from ``AppConfig.ready()``); with no read-only alias, the checks in
(1) cost one set lookup per write and (2) is not installed on any connection.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, router
from django.db.backends.signals import connection_created
from django.db.models import Model, QuerySet
from django.db.utils import DatabaseError

__all__ = [
    "ReadOnlyDatabaseError",
    "install",
    "install_from_settings",
    "ensure_writable",
    "read_only_aliases",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The aliases writes are refused on (replaced by each install()).
_read_only: frozenset[str] = frozenset()
_patched = False

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


def _url_variable(alias: str) -> str:
    return "DATABASE_URL" if alias == DEFAULT_DB_ALIAS else f"DATABASE_URL_{alias.upper()}"


class ReadOnlyDatabaseError(DatabaseError):
    """A write was about to go to a read-only alias; it was refused before any SQL.

    :attr:`model` is the model label (``app.Model``) or, for raw SQL, the table
    or ``None``; :attr:`alias` the database alias; :attr:`operation` what was
    attempted (``save``, ``delete``, ``update``, ``bulk_create``, ...).
    """

    def __init__(self, operation: str, model: str | None, alias: str) -> None:
        self.operation = operation
        self.model = model
        self.alias = alias
        target = f" {model}" if model else ""
        super().__init__(
            f"Refused to {operation}{target} on the database alias '{alias}': that alias is "
            f"read-only (read_only=true in {_url_variable(alias)}), so nothing was sent to "
            f"the database. Write through a writable alias, or remove read_only=true from "
            f"{_url_variable(alias)} if this database should accept writes."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.operation, self.model, self.alias))


def read_only_aliases() -> frozenset[str]:
    """The aliases writes are currently refused on."""
    return _read_only


def ensure_writable(model: type[Model], alias: str | None, operation: str) -> None:
    """Raise :class:`ReadOnlyDatabaseError` if ``alias`` is read-only.

    For code that writes on an alias it chose itself (e.g. a cross-database
    cascade): call it for every alias before writing to any.
    """
    if alias in _read_only:
        raise ReadOnlyDatabaseError(operation, model._meta.label, alias)


def _queryset_alias(queryset: QuerySet[Any]) -> str:
    # What QuerySet.db returns once _for_write is set, without setting it.
    return queryset._db or router.db_for_write(queryset.model, **queryset._hints)


def _guard_queryset(operation: str, original: F) -> F:
    @functools.wraps(original)
    def guarded(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        if _read_only:
            alias = _queryset_alias(self)
            if alias in _read_only:
                raise ReadOnlyDatabaseError(operation, self.model._meta.label, alias)
        return original(self, *args, **kwargs)

    guarded.__djcfg_env_original__ = original  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def _refuse_instance_write(instance: Model, using: str | None, operation: str) -> None:
    """Refuse ``operation`` on ``instance`` if it would go to a read-only alias."""
    alias = using or router.db_for_write(type(instance), instance=instance)
    if alias in _read_only:
        raise ReadOnlyDatabaseError(operation, instance._meta.label, alias)


def _guard_save_base(original: F) -> F:
    @functools.wraps(original)
    def save_base(
        self: Model,
        raw: bool = False,
        force_insert: Any = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> Any:
        if _read_only:
            _refuse_instance_write(self, using, "save")
        return original(
            self,
            raw=raw,
            force_insert=force_insert,
            force_update=force_update,
            using=using,
            update_fields=update_fields,
        )

    save_base.__djcfg_env_original__ = original  # type: ignore[attr-defined]
    return save_base  # type: ignore[return-value]


def _guard_delete(original: F) -> F:
    @functools.wraps(original)
    def delete(self: Model, using: str | None = None, keep_parents: bool = False) -> Any:
        if _read_only:
            _refuse_instance_write(self, using, "delete")
        return original(self, using=using, keep_parents=keep_parents)

    delete.__djcfg_env_original__ = original  # type: ignore[attr-defined]
    return delete  # type: ignore[return-value]


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
    if alias in _read_only and isinstance(sql, str):
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
    if connection.alias in _read_only and _sql_guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(_sql_guard)


def _make_sqlite_read_only(connection: Any) -> None:
    """``PRAGMA query_only = ON`` on an open SQLite connection of a read-only alias.

    SQLite's own counterpart of PostgreSQL's ``default_transaction_read_only``:
    sent on the driver connection (not through Django's cursor, so no wrapper
    sees it), it makes SQLite refuse every write on that connection.
    """
    if connection.alias in _read_only and connection.vendor == "sqlite":
        raw = connection.connection
        if raw is not None:
            raw.execute("PRAGMA query_only = ON")


def _guard_connection(connection: Any) -> None:
    """Both connection-level guards, for a connection of a read-only alias."""
    _add_sql_guard(connection)
    _make_sqlite_read_only(connection)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _guard_connection(connection)


def install(aliases: Iterable[str]) -> None:
    """Refuse writes to ``aliases`` from now on (replacing any earlier set).

    Patches the ORM write entry points once per process and adds the SQL guard
    to connections of those aliases as they connect (and to any already open).
    """
    global _read_only, _patched
    _read_only = frozenset(aliases)
    if not _read_only:
        return
    if not _patched:
        Model.save_base = _guard_save_base(Model.save_base)  # type: ignore[method-assign]
        Model.delete = _guard_delete(Model.delete)  # type: ignore[method-assign]
        for name in _QUERYSET_WRITES:
            setattr(QuerySet, name, _guard_queryset(name, getattr(QuerySet, name)))
        connection_created.connect(_on_connection_created, dispatch_uid="djcfg_env.readonly")
        _patched = True
    from django.db import connections

    for alias in _read_only:
        if alias in connections.settings:
            connection = connections[alias]
            if connection.connection is not None:
                _guard_connection(connection)


def install_from_settings() -> None:
    """:func:`install` for ``settings.READ_ONLY_DATABASES``: for ``AppConfig.ready()``.

    So a write with an explicit ``using()`` is refused even before the router
    (which also installs the guard) has been created.
    """
    from .routes import read_only_aliases

    install(read_only_aliases())
