"""The cross-database join guard: a clear error instead of a join no database can run.

``Post.objects.select_related("author")``, ``filter(author__username=...)``
and ``values("author__username")`` need ``blog_post JOIN auth_user`` in one SQL
statement; with the two tables in two databases that statement fails with
"relation auth_user does not exist", or silently reads a stray ``auth_user``
left in ``blog_db`` by an earlier unrouted ``migrate``.

The guard sits in ``SQLCompiler.get_from_clause()``, which every SELECT Django
compiles goes through (subqueries, the inner query of an ``update()`` or
``delete()`` through a relation, aggregates), after the joins are known and
before any SQL is sent. It looks each table of the FROM clause up in a
precomputed set of the tables that do not live on the compiler's alias
(:mod:`djcfg_env.orm.placement`): a dict lookup per table, nothing per row.
A hit raises :class:`CrossDatabaseJoinError`, naming the relation, both models
and both aliases, and saying what to use instead.

Checked at compile time, the guard knows the exact relation (the ``Join``'s
field), which an execute wrapper reading SQL text could only guess, and it is
not fooled by raw SQL that merely mentions a table (``flush``, migrations).
Raw SQL (``cursor.execute``, ``.raw()``, ``extra(tables=...)``) is not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Model
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.datastructures import Join

from ..exceptions import CrossDatabaseJoinError
from .placement import home_alias, placement
from .switches import Feature, Patch

__all__ = ["CrossDatabaseJoinError", "FEATURE", "check_query"]


def check_query(compiler: SQLCompiler) -> None:
    """Raise :class:`CrossDatabaseJoinError` if ``compiler``'s FROM clause names a foreign table.

    On a read-only alias (a replica of another database, or a warehouse), a query
    sent there with ``using()`` whose tables all live on one alias is allowed: a
    replica of ``default`` has all of ``default``'s tables. A join of tables from
    two different aliases is refused there too.
    """
    where = placement()
    running_on = compiler.connection.alias
    foreign = where.foreign_tables.get(running_on)
    if not foreign:
        return
    query = compiler.query
    refcount = query.alias_refcount
    for alias, entry in query.alias_map.items():
        if refcount[alias] and entry.table_name in foreign:
            if running_on in where.read_only and _one_home(query, where.table_home):
                return
            raise _error(compiler, alias, foreign[entry.table_name])


def _one_home(query: Any, table_home: Mapping[str, str]) -> bool:
    """Whether every table the query uses lives on one alias (a query a replica can answer)."""
    refcount = query.alias_refcount
    homes = {
        table_home.get(entry.table_name)
        for alias, entry in query.alias_map.items()
        if refcount[alias]
    }
    return len(homes) == 1 and None not in homes


def _guard(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_from_clause(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        check_query(self)
        return original(self, *args, **kwargs)

    get_from_clause.__doc__ = original.__doc__
    return get_from_clause


# -- the message -----------------------------------------------------------------


def _relation(join: Join) -> tuple[str, str, type[Model], str]:
    """(relation as the query names it, " (the reverse of ...)" or "", the model joined from,
    the name prefetch_related() uses for this hop)."""
    field = join.join_field
    if isinstance(field, ForeignObjectRel):  # a reverse relation: User -> blog_posts
        declared = field.field
        name = declared.related_query_name()
        accessor = field.get_accessor_name() or name
        source = field.model
        label = f"{source._meta.label}.{name}"
        declared_label = f"{declared.model._meta.label}.{declared.name}"
        return label, f" (the reverse of {declared_label})", source, accessor
    source = field.model
    return f"{source._meta.label}.{field.name}", "", source, field.name


def _path(compiler: SQLCompiler, alias: str) -> str:
    """The lookup path from the queried model to the joined table, e.g. ``post__author``."""
    names: list[str] = []
    alias_map = compiler.query.alias_map
    entry = alias_map.get(alias)
    while isinstance(entry, Join):
        names.append(_relation(entry)[3])
        entry = alias_map.get(entry.parent_alias)
    return "__".join(reversed(names))


def _error(compiler: SQLCompiler, alias: str, model: type[Model]) -> CrossDatabaseJoinError:
    """The error for the FROM-clause entry ``alias``, whose table belongs to ``model``."""
    running_on = compiler.connection.alias
    lives_on = home_alias(model)
    entry = compiler.query.alias_map[alias]
    table = entry.table_name
    target = model._meta.label
    name = model.__name__
    if isinstance(entry, Join):
        relation, reverse_note, source, _ = _relation(entry)
        path = _path(compiler, alias)
        source_alias = home_alias(source)
        message = (
            f"Cross-database join through {relation}{reverse_note}: "
            f"{source._meta.label} lives on {source_alias!r} and {target} on {lives_on!r}, "
            f"so this query on {running_on!r} would need a SQL join with table {table!r} "
            f"from {lives_on!r}, which one database cannot do (select_related(), a "
            f"filter, values() or order_by() through {path!r}). The query was not sent. "
            f"Use prefetch_related({path!r}) to load the related objects with a second "
            f"query on {lives_on!r}, or look the ids up first: {_ids_hint(entry)}."
        )
        return CrossDatabaseJoinError(message, relation=relation, alias=running_on, table_alias=lives_on)
    message = (
        f"Cross-database query: table {table!r} of {target} lives on {lives_on!r}, but this "
        f"query runs on {running_on!r}, where it is not. The query was not sent. A subquery "
        f"such as filter(author__in={name}.objects.filter(...)) runs inside the outer "
        f"query's database: evaluate it first, ids = list({name}.objects.filter(...)"
        f".values_list('pk', flat=True)), and filter by those ids; and do not send "
        f"{target} to {running_on!r} with using()."
    )
    return CrossDatabaseJoinError(message, relation=None, alias=running_on, table_alias=lives_on)


def _ids_hint(join: Join) -> str:
    """How to write the query as two queries, one per database, joined by ids."""
    field = join.join_field
    if isinstance(field, ForeignObjectRel):  # User -> blog_posts: read the posts' author ids
        declared = field.field
        many = declared.model.__name__
        return (
            f"ids = list({many}.objects.filter(...).values_list({declared.attname!r}, flat=True)), "
            f"then {field.model.__name__}.objects.filter(pk__in=ids)"
        )
    one = field.remote_field.model.__name__
    return (
        f"ids = list({one}.objects.filter(...).values_list('pk', flat=True)), "
        f"then {field.model.__name__}.objects.filter({field.attname}__in=ids)"
    )


def _compiler() -> type:
    return SQLCompiler


FEATURE = Feature(
    key="JOIN_GUARD",
    summary="Raise CrossDatabaseJoinError before a query that joins tables of two databases is sent.",
    patches=(Patch(_compiler, "get_from_clause", _guard),),
    needed=lambda: placement().routed,
)
