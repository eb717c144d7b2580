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
A hit raises :class:`CrossDatabaseJoinError`. It names the hop that crosses
(the first join of the path whose table lives in another database than the
one before it, with the model on each side of that hop, whatever the relation
kind: foreign key, reverse, many-to-many through model, generic relation) and
both aliases, and suggests a query that runs: the far side first
(``ids = list(User.objects.filter(username__in=...).values_list('pk', flat=True))``,
with the lookups of the refused query), then the near side by the crossing
hop's column (``Post.objects.filter(author_id__in=ids)``), one step per
database the path enters.

``select_related()`` through such a hop does not get here while the
``CROSS_DATABASE_SELECT_RELATED`` switch is on: :mod:`djcfg_env.orm.select_related`
turns the hop into a prefetch before the query is compiled.

Checked at compile time, the guard knows the exact relation (the ``Join``'s
field), which an execute wrapper reading SQL text could only guess, and it is
not fooled by raw SQL that merely mentions a table (``flush``, migrations).
Raw SQL (``cursor.execute``, ``.raw()``, ``extra(tables=...)``) is not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Lookup, Model, Transform
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import Col
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.datastructures import Join

from ..exceptions import CrossDatabaseJoinError
from .placement import home_alias, placement
from .replicas import primary_of as _primary_of
from .switches import Feature, Patch

__all__ = ["CrossDatabaseJoinError", "FEATURE", "check_query"]


def check_query(compiler: SQLCompiler) -> None:
    """Raise :class:`CrossDatabaseJoinError` if ``compiler``'s FROM clause names a foreign table.

    A replica (``replica_of=``) has exactly its primary's tables: a query on it
    is checked as if it ran on the primary, so a join of a table read from the
    replica with one that lives on its primary is no cross-database join.
    On another read-only alias (a copy of another database declared only with
    ``read_only=true``, or a warehouse), a query sent there with ``using()``
    whose tables all live on one alias is allowed. A join of tables from two
    different primaries is refused everywhere.
    """
    where = placement()
    running_on = compiler.connection.alias
    home = _primary_of(running_on) if running_on in where.read_only else running_on
    foreign = where.foreign_tables.get(running_on)  # a replica's: its primary's (placement)
    if not foreign:
        return
    query = compiler.query
    refcount = query.alias_refcount
    for alias, entry in query.alias_map.items():
        if refcount[alias] and entry.table_name in foreign:
            if home == running_on and running_on in where.read_only and _one_home(query, where.table_home):
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


@dataclass(frozen=True)
class _Hop:
    """One join of a lookup path, as a user would name it."""

    join: Join
    #: The models on each side (None: a table no installed model uses).
    left: type[Model] | None
    right: type[Model] | None
    #: "blog.Post.author", and " (the reverse of ...)" for a reverse relation.
    relation: str
    note: str
    #: The name of this hop in prefetch_related() and in filter(); None when it has none.
    prefetch: str | None
    lookup: str | None
    #: The second join of a many-to-many field the previous hop already names.
    absorbed: bool = False


def _model_at(query: Any, alias: str) -> type[Model] | None:
    """The model whose table is the FROM-clause entry ``alias``."""
    entry = query.alias_map[alias]
    table = entry.table_name
    candidates: list[Any] = []
    if isinstance(entry, Join):
        field = entry.join_field
        candidates = [getattr(field, "related_model", None), getattr(field, "model", None)]
        candidates.append(getattr(getattr(field, "remote_field", None), "through", None))
        candidates.append(getattr(field, "through", None))
    else:
        candidates = [query.model]
    for candidate in candidates:
        if _is_model(candidate) and candidate._meta.db_table == table:
            return candidate  # type: ignore[no-any-return]
    return placement().table_models.get(table)


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, Model)


def _same_table(model: Any, other: type[Model] | None) -> bool:
    return other is not None and _is_model(model) and model._meta.db_table == other._meta.db_table


def _label(model: type[Model] | None, table: str) -> str:
    return model._meta.label if model is not None else f"the table {table!r}"


def _hops(query: Any, alias: str) -> list[_Hop]:
    """The joins from the queried table down to ``alias``, first hop first."""
    joins: list[Join] = []
    entry = query.alias_map.get(alias)
    while isinstance(entry, Join):
        joins.append(entry)
        entry = query.alias_map.get(entry.parent_alias)
    hops: list[_Hop] = []
    for join in reversed(joins):
        left, right = _model_at(query, join.parent_alias), _model_at(query, join.table_alias)
        field = join.join_field
        source = _label(left, query.alias_map[join.parent_alias].table_name)
        absorbed = False
        if hops:  # the through table's join to the target of a many-to-many named by the previous hop
            previous = hops[-1].join.join_field
            declared = getattr(previous, "field", None)
            absorbed = (
                isinstance(previous, ForeignObjectRel)
                and declared is not None
                and declared.many_to_many
                and _same_table(declared.model, hops[-1].left)
                and _same_table(getattr(declared.remote_field, "through", None), left)
            )
        if isinstance(field, ForeignObjectRel):
            declared = field.field
            if _same_table(declared.model, left):  # forward, through a GenericRelation or a tag manager
                hop = _Hop(join, left, right, f"{source}.{declared.name}", "", declared.name, declared.name, absorbed)
            else:  # a reverse relation: User -> blog_posts
                name = declared.related_query_name()
                lookup = None if name.endswith("+") else name
                accessor = field.get_accessor_name() or lookup
                hop = _Hop(
                    join, left, right, f"{source}.{name}",
                    f" (the reverse of {declared.model._meta.label}.{declared.name})",
                    accessor, lookup, absorbed,
                )
        else:
            hop = _Hop(join, left, right, f"{source}.{field.name}", "", field.name, field.name, absorbed)
        hops.append(hop)
    return hops


def _crossing(hops: list[_Hop], query: Any, running_on: str) -> int:
    """The index of the first hop into another database: the hop the error is about."""
    where = placement()
    homes = where.table_home
    foreign = where.foreign_tables.get(running_on, {})
    for index, hop in enumerate(hops):
        left_home = homes.get(query.alias_map[hop.join.parent_alias].table_name)
        right_home = homes.get(hop.join.table_name)
        if right_home is not None and right_home != left_home:
            return index
    for index, hop in enumerate(hops):
        if hop.join.table_name in foreign:
            return index
    return len(hops) - 1


def _error(compiler: SQLCompiler, alias: str, model: type[Model]) -> CrossDatabaseJoinError:
    """The error for the FROM-clause entry ``alias``, whose table belongs to ``model``."""
    running_on = compiler.connection.alias
    query = compiler.query
    entry = query.alias_map[alias]
    if isinstance(entry, Join):
        hops = _hops(query, alias)
        index = _crossing(hops, query, running_on)
        hop = hops[index]
        table = hop.join.table_name
        left_table = query.alias_map[hop.join.parent_alias].table_name
        homes = placement().table_home
        source_alias = homes.get(left_table, running_on)
        lives_on = homes.get(table) or home_alias(model)
        path = _names(hops, 0, index + 1, "prefetch") or _names(hops, 0, index + 1, "lookup") or hop.relation
        prefetch = _tag_manager_prefetch(hops, index) or path
        try:
            hint = _ids_hint(query, hops, index)
        except Exception:  # noqa: BLE001 - a hint must never hide the error itself
            hint = _simple_hint(hop)
        many = _many_to_many(hop)
        note = hop.note
        if many:
            part = f"part of the many-to-many {many}"
            note = f"{note[:-1]}, {part})" if note else f" ({part})"
        message = (
            f"Cross-database join through {hop.relation}{note}: "
            f"{_label(hop.left, left_table)} lives on {source_alias!r} and {_label(hop.right, table)} "
            f"on {lives_on!r}, so this query on {running_on!r} would need a SQL join with table "
            f"{table!r} from {lives_on!r}, which one database cannot do (select_related(), a "
            f"filter, values() or order_by() through {path!r}). The query was not sent. "
            f"Use prefetch_related({prefetch!r}) to load the related objects with a second "
            f"query on {lives_on!r}, or look the ids up first: {hint}."
        )
        return CrossDatabaseJoinError(message, relation=hop.relation, alias=running_on, table_alias=lives_on)
    table = entry.table_name
    lives_on = home_alias(model)
    target = model._meta.label
    name = model.__name__
    message = (
        f"Cross-database query: table {table!r} of {target} lives on {lives_on!r}, but this "
        f"query runs on {running_on!r}, where it is not. The query was not sent. A subquery "
        f"such as filter(author__in={name}.objects.filter(...)) runs inside the outer "
        f"query's database: evaluate it first, ids = list({name}.objects.filter(...)"
        f".values_list('pk', flat=True)), and filter by those ids; and do not send "
        f"{target} to {running_on!r} with using()."
    )
    return CrossDatabaseJoinError(message, relation=None, alias=running_on, table_alias=lives_on)


def _tag_manager_prefetch(hops: list[_Hop], index: int) -> str | None:
    """The prefetch that works for a tag manager's hop (django-taggit's ``TaggableManager``), else None.

    Its own ``prefetch_related('tags')`` sends the tag query to the tagged model's alias,
    which this guard refuses; the ``GenericRelation`` it adds to the model to its through
    model (``tagged_items``) is prefetched where the through table lives: ``'tagged_items__tag'``.
    """
    prefix = _names(hops, 0, index, "prefetch") if index else ""
    hop = hops[index]
    declared: Any = getattr(hop.join.join_field, "field", None)
    if (
        declared is None or not declared.many_to_many or _is_generic_relation(declared)
        or hop.left is None or hop.right is None or not _same_table(declared.model, hop.left)
        or not any(getattr(private, "fk_field", None) for private in hop.right._meta.private_fields)
    ):
        return None
    relation = next((
        field for field in hop.left._meta.private_fields
        if _is_generic_relation(field) and _same_table(field.related_model, hop.right)
    ), None)
    target = next((
        field for field in hop.right._meta.local_fields
        if field.many_to_one and _same_table(field.related_model, declared.related_model)
    ), None)
    if prefix is None or relation is None or target is None:
        return None
    return LOOKUP_SEP.join([*([prefix] if prefix else []), relation.name, target.name])


def _many_to_many(hop: _Hop) -> str | None:
    """"app.Model.field" of the many-to-many whose through model the hop joins to one of its ends."""
    from django.apps import apps

    for through, other in ((hop.left, hop.right), (hop.right, hop.left)):
        if through is None or other is None:
            continue
        for candidate in apps.get_models():
            for field in candidate._meta.local_many_to_many:
                label = f"{candidate._meta.label}.{field.name}"
                ends = (field.model, field.related_model)
                if (
                    _same_table(getattr(field.remote_field, "through", None), through)
                    and any(_same_table(end, other) for end in ends)
                    and label != hop.relation
                ):
                    return label
    return None


# -- the two-step query the message suggests ----------------------------------------


def _names(hops: list[_Hop], start: int, stop: int, kind: str) -> str | None:
    """``hops[start:stop]`` as one path of prefetch or lookup names; None if a hop has no name.

    A many-to-many's second join is left out where the hop before it (the
    field's own name) is part of the path.
    """
    names: list[str] = []
    for index in range(start, stop):
        hop = hops[index]
        if hop.absorbed and index > start:
            continue
        name = hop.prefetch if kind == "prefetch" else hop.lookup
        if name is None:
            return None
        names.append(name)
    return "__".join(names)


def _conditions(node: Any, found: list[tuple[str, str]]) -> None:
    """(table alias, ``field__lookup``) of each lookup in a WHERE tree whose left side is a column."""
    for child in getattr(node, "children", ()):
        if isinstance(child, Lookup):
            parts = [] if child.lookup_name == "exact" else [child.lookup_name]
            side = child.lhs
            while isinstance(side, Transform):
                parts.insert(0, side.lookup_name)
                side = side.lhs
            if isinstance(side, Col) and getattr(side.target, "name", None):
                found.append((side.alias, LOOKUP_SEP.join([side.target.name, *parts])))
        else:
            _conditions(child, found)


def _column_name(model: type[Model] | None, column: str) -> str | None:
    """How values_list()/filter() name ``model``'s column: 'pk', or the field's attname."""
    if model is None:
        return None
    for field in model._meta.concrete_fields:
        if field.column == column:
            return "pk" if field is model._meta.pk else field.attname
    return None


def _is_generic_relation(field: Any) -> bool:
    from django.apps import apps

    if not apps.is_installed("django.contrib.contenttypes"):
        return False
    from django.contrib.contenttypes.fields import GenericRelation

    return isinstance(field, GenericRelation)


def _restriction(hop: _Hop) -> list[str]:
    """The far side's part of a join's ON clause beyond the ids (a generic relation's content type)."""
    declared: Any = getattr(hop.join.join_field, "field", None)
    if _is_generic_relation(declared) and _same_table(declared.model, hop.left):
        concrete = "" if declared.for_concrete_model else ", for_concrete_model=False"
        return [
            f"{declared.content_type_field_name}=ContentType.objects.get_for_model("
            f"{declared.model.__name__}{concrete})"
        ]
    (_, right_column), *_ = hop.join.join_cols
    if hop.right is not None and hop.left is not None:
        for private in hop.right._meta.private_fields:  # a GenericForeignKey (a tag manager's through model)
            fk_field = getattr(private, "fk_field", None)
            ct_field = getattr(private, "ct_field", None)
            if ct_field and fk_field and _column_name(hop.right, right_column) == fk_field:
                return [f"{ct_field}=ContentType.objects.get_for_model({hop.left.__name__})"]
    extra = hop.join.join_field.get_extra_restriction(hop.join.table_alias, hop.join.parent_alias)
    found: list[str] = []
    for child in getattr(extra, "children", ()):
        if isinstance(child, Lookup) and isinstance(child.lhs, Col) and child.lookup_name == "exact":
            found.append(f"{child.lhs.target.attname}={child.rhs!r}")
    return found


def _ids_hint(query: Any, hops: list[_Hop], crossing: int) -> str:
    """How to write the query as one query per database, joined by ids, the far side first.

    The path is followed down to the deepest table the WHERE clause filters on
    beyond the crossing hop; it is cut where each hop enters another database,
    and each part becomes one query (``ids = list(...values_list(...))``) whose
    ids the next one filters by. The filters keep their lookups, with ``...``
    for the values.
    """
    homes = placement().table_home
    found: list[tuple[str, str]] = []
    _conditions(query.where, found)
    # Follow the path down to the deepest filtered table below the crossing hop.
    below = hops[: crossing + 1]
    crossing_alias = hops[crossing].join.table_alias
    for alias, _ in found:
        candidate = _hops(query, alias) if isinstance(query.alias_map.get(alias), Join) else []
        if len(candidate) > len(below) and any(h.join.table_alias == crossing_alias for h in candidate):
            below = candidate
    hops = below
    aliases = {hop.join.table_alias: index for index, hop in enumerate(hops)}
    base = query.alias_map[hops[0].join.parent_alias].table_name
    # Where each part starts: -1 for the queried model, then every hop into another database.
    starts = [-1] + [
        index for index, hop in enumerate(hops)
        if index >= crossing
        and homes.get(hop.join.table_name) != homes.get(
            base if index == 0 else hops[index - 1].join.table_name
        )
    ]
    if len(starts) < 2 or starts[1] != crossing:
        starts.insert(1, crossing)
    by_part: dict[int, list[str]] = {start: [] for start in starts}
    for alias, condition in found:
        position = -1 if alias == hops[0].join.parent_alias else aliases.get(alias)
        if position is None:
            continue
        start = max(s for s in starts if s <= position)
        prefix = _names(hops, start + 1, position + 1, "lookup")
        if prefix is None:
            raise LookupError("a hop without a lookup name")
        text = f"{prefix}{LOOKUP_SEP if prefix else ''}{condition}=..."
        if text not in by_part[start]:
            by_part[start].append(text)
    steps: list[str] = []
    ids = ""
    for number, start in enumerate(reversed(starts)):
        end = len(hops) if start == starts[-1] else starts[starts.index(start) + 1]
        kwargs = list(by_part[start])
        if ids:  # the ids of the part after this one, by this part's column of the hop into it
            kwargs.append(_link(hops, start, end, ids))
        if start == -1:
            model = query.model
            steps.append(f"{model.__name__}.objects.filter({', '.join(kwargs) or '...'})")
            break
        hop = hops[start]
        kwargs[:0] = _restriction(hop)
        (_, right_column), *more = hop.join.join_cols
        value = _column_name(hop.right, right_column)
        if more or value is None or hop.right is None:
            raise LookupError("a join on several columns")
        ids = "ids" if number == 0 else f"ids{number + 1}"
        steps.append(
            f"{ids} = list({hop.right.__name__}.objects.filter({', '.join(kwargs) or '...'})"
            f".values_list({value!r}, flat=True))"
        )
    return ", then ".join(steps)


def _simple_hint(hop: _Hop) -> str:
    """The two models of the crossing hop, joined by ids (where the whole path has no names)."""
    (left_column, right_column), *_ = hop.join.join_cols
    left, right = hop.left, hop.right
    left_name, right_name = _column_name(left, left_column), _column_name(right, right_column)
    if left is None or right is None or left_name is None or right_name is None:
        return "read the ids on the other database first, then filter by them with __in"
    return (
        f"ids = list({right.__name__}.objects.filter(...).values_list({right_name!r}, flat=True)), "
        f"then {left.__name__}.objects.filter({left_name}__in=ids)"
    )


def _link(hops: list[_Hop], start: int, end: int, ids: str) -> str:
    """``path__column__in=ids``: the part from ``hops[start]`` filtered by the ids of ``hops[end]``'s far side."""
    hop = hops[end]
    if hop.absorbed and end - 1 > start:  # tags__in=ids: the many-to-many's own name
        prefix = _names(hops, start + 1, end, "lookup")
        if prefix is None:
            raise LookupError("a hop without a lookup name")
        return f"{prefix}__in={ids}"
    prefix = _names(hops, start + 1, end, "lookup")
    (left_column, _), *more = hop.join.join_cols
    column = _column_name(hop.left, left_column)
    if prefix is None or column is None or more:
        raise LookupError("no lookup for this hop")
    return f"{prefix}{LOOKUP_SEP if prefix else ''}{column}__in={ids}"


def _compiler() -> type:
    return SQLCompiler


FEATURE = Feature(
    key="JOIN_GUARD",
    summary="Raise CrossDatabaseJoinError before a query that joins tables of two databases is sent.",
    patches=(Patch(_compiler, "get_from_clause", _guard),),
    needed=lambda: placement().routed,
)
