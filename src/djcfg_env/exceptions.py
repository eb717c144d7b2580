"""Every exception djcfg-env raises that a user may want to catch, in one module.

All three are also importable from ``djcfg_env`` itself:

* :class:`ConfigError` (an ``ImproperlyConfigured``): the environment does not
  describe a valid configuration; raised by :func:`djcfg_env.load` and so by
  ``from djcfg_env.settings import *``, listing every problem at once.
* :class:`ReadOnlyDatabaseError` (a ``django.db.DatabaseError``): a write was about
  to go to a read-only alias and was refused before any SQL was sent.
* :class:`CrossDatabaseJoinError` (a ``django.db.NotSupportedError``): a query
  needs a SQL join (or subquery) with a table that lives in another database.

No message ever contains a configured value: a value may be, or contain, a password.
"""

from __future__ import annotations

from typing import Any

from django.db.utils import DatabaseError, NotSupportedError

from .env.errors import ConfigError
from .env.grammar import url_variable

__all__ = ["ConfigError", "ReadOnlyDatabaseError", "CrossDatabaseJoinError"]


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
        variable = url_variable(alias)
        super().__init__(
            f"Refused to {operation}{target} on the database alias '{alias}': that alias is "
            f"read-only (read_only=true in {variable}), so nothing was sent to "
            f"the database. Write through a writable alias, or remove read_only=true from "
            f"{variable} if this database should accept writes."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.operation, self.model, self.alias))


class CrossDatabaseJoinError(NotSupportedError):
    """A query needs a table that lives in another database (a join, or a subquery).

    Raised while the query is compiled, before any SQL is sent. A subclass of
    ``django.db.NotSupportedError``, like Django's other "this database cannot
    run that query" errors. :attr:`relation` is ``"blog.Post.author"`` (or None
    for a subquery or ``using()`` on the wrong alias), :attr:`alias` the
    database the query runs on and :attr:`table_alias` the one the table lives on.
    """

    def __init__(self, message: str, *, relation: str | None, alias: str, table_alias: str) -> None:
        super().__init__(message)
        self.relation = relation
        self.alias = alias
        self.table_alias = table_alias

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_join_error, (str(self), self.relation, self.alias, self.table_alias))


def _rebuild_join_error(message: str, relation: str | None, alias: str, table_alias: str) -> CrossDatabaseJoinError:
    return CrossDatabaseJoinError(message, relation=relation, alias=alias, table_alias=table_alias)
