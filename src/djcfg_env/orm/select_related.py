"""``select_related()`` across databases: the hops that cross become one prefetch each.

``Post.objects.select_related("author")`` asks for ``blog_post JOIN auth_user``
in one SQL statement, which no database can run when the two tables live in
two databases (the join guard refuses it). While the
``CROSS_DATABASE_SELECT_RELATED`` switch is on (:data:`FEATURE`), such a
queryset is evaluated as Django would evaluate the same queryset with the
crossing hops moved from ``select_related()`` to ``prefetch_related()``:

* a hop within the database the query runs on keeps its join
  (``Comment.objects.select_related("post")``);
* the first hop of a path that crosses, with everything below it, is loaded by
  one more query on the other alias: ``Comment.objects.select_related("post__author")``
  joins ``post`` and prefetches ``post__author``; ``Promotion.objects.select_related("post__author")``
  (``shop_db`` -> ``blog_db`` -> ``default``) prefetches ``post`` with
  ``Prefetch("post", Post._base_manager.select_related("author"))``, whose own
  evaluation goes through here again;
* ``select_related()`` with no names (the admin changelist's) is expanded the
  way Django expands it (every non-null forward relation, ``query.max_depth``
  deep) only when that expansion crosses; otherwise it is left as it is.

The related objects end up where ``select_related()`` puts them (the field's
cache: ``post.author`` sends no query), one query per crossing relation
whatever the number of rows (``iterator()`` and ``aiterator()``: one per chunk).
A queryset whose ``select_related()`` stays in one database, or that has none,
takes Django's own path after one check.

Left to the join guard (they still raise ``CrossDatabaseJoinError``):
``select_for_update()`` (a lock cannot span two databases), ``only()``/``defer()``
(the prefetch could not honour them), combined queries (``union()``, ...), a
query sent with ``using()`` to an alias where its own table is not (a
read-only copy of another database; a replica declared with ``replica_of=``
counts as its primary), and names Django itself would refuse (it raises its own ``FieldError``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Prefetch, QuerySet
from django.db.models.fields.reverse_related import OneToOneRel
from django.db.models.query import ModelIterable

from .placement import Placement, placement
from .switches import Feature, Patch

__all__ = ["FEATURE", "split", "prepared"]

#: A ``select_related()`` dict: relation name -> the same for the related model.
Tree = dict[str, Any]
#: Django's chunk size for ``iterator()`` without one (``QuerySet._iterator``).
CHUNK_SIZE = 2000


def _hop(model: type[Model], name: str) -> tuple[type[Model], str] | None:
    """(related model, prefetch name) of the ``select_related()`` name ``name`` on ``model``.

    None for what this module leaves to Django: unknown names, parent links,
    attnames, and reverse relations other than one-to-one.
    """
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if isinstance(field, OneToOneRel):  # reverse one-to-one: user.customer
        accessor = field.get_accessor_name()
        if field.field.related_query_name() != name or not accessor or field.parent_link:
            return None
        return field.related_model, accessor  # type: ignore[return-value]
    if (
        field.name != name
        or not field.concrete
        or not (field.many_to_one or field.one_to_one)
        or field.remote_field is None
        or getattr(field.remote_field, "parent_link", False)
    ):
        return None
    return field.related_model, field.name  # type: ignore[return-value]


def _expand(model: type[Model], depth: int, max_depth: int) -> Tree:
    """``select_related()`` with no names, as Django's ``get_related_selections`` expands it."""
    if depth > max_depth:
        return {}
    return {
        field.name: _expand(field.remote_field.model, depth + 1, max_depth)
        for field in model._meta.fields
        if field.remote_field is not None
        and not getattr(field.remote_field, "parent_link", False)
        and not field.null
    }


def _paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The leaf paths of a tree: ``{"post": {"author": {}}}`` -> ``["post__author"]``."""
    found: list[str] = []
    for name, sub in tree.items():
        path = f"{prefix}__{name}" if prefix else name
        found.extend(_paths(sub, path) if sub else [path])
    return found


def _merge(into: Tree, tree: Mapping[str, Any]) -> None:
    for name, sub in tree.items():
        _merge(into.setdefault(name, {}), sub)


def _split(
    model: type[Model],
    tree: Mapping[str, Any],
    foreign: Mapping[str, Any],
    keep: Tree,
    crossing: dict[str, tuple[type[Model], Tree]],
    prefix: str,
) -> None:
    for name, sub in tree.items():
        hop = _hop(model, name)
        if hop is None:  # Django's to handle (or to refuse), as it is
            keep[name] = sub
            continue
        related, accessor = hop
        path = f"{prefix}__{accessor}" if prefix else accessor
        if related._meta.db_table in foreign:
            _merge(crossing.setdefault(path, (related, {}))[1], sub)
        else:
            _split(related, sub, foreign, keep.setdefault(name, {}), crossing, path)


def split(
    model: type[Model], requested: Mapping[str, Any], foreign: Mapping[str, Any]
) -> tuple[Tree, dict[str, tuple[type[Model], Tree]]]:
    """Split a ``select_related()`` tree of ``model`` for a database without the ``foreign`` tables.

    Returns the tree of the hops that stay (joined, as before) and, for each
    path whose next hop crosses, in prefetch names (``post__author``): the
    related model and the tree below that hop (to select_related() over there).
    """
    keep: Tree = {}
    crossing: dict[str, tuple[type[Model], Tree]] = {}
    _split(model, requested, foreign, keep, crossing, "")
    return keep, crossing


#: (model, alias, max_depth) -> the split of ``select_related()`` with no names,
#: None when it does not cross. Valid for one placement.
_EXPANDED: dict[tuple[type[Model], str, int], tuple[Tree, dict[str, tuple[type[Model], Tree]]] | None] = {}
_EXPANDED_FOR: list[Placement] = []


def _split_all(
    model: type[Model], alias: str, max_depth: int, where: Placement, foreign: Mapping[str, Any]
) -> tuple[Tree, dict[str, tuple[type[Model], Tree]]] | None:
    if not _EXPANDED_FOR or _EXPANDED_FOR[0] is not where:
        _EXPANDED.clear()
        _EXPANDED_FOR[:] = [where]
    key = (model, alias, max_depth)
    try:
        return _EXPANDED[key]
    except KeyError:
        keep, crossing = split(model, _expand(model, 1, max_depth), foreign)
        found = _EXPANDED[key] = (keep, crossing) if crossing else None
        return found


def prepared(queryset: QuerySet[Any]) -> QuerySet[Any] | None:
    """A copy of ``queryset`` with its crossing ``select_related()`` hops prefetched, or None.

    None when nothing crosses (or when the join guard should have its say):
    the queryset is then evaluated exactly as Django would.
    """
    query = queryset.query
    requested = query.select_related
    if not requested or not issubclass(queryset._iterable_class, ModelIterable):
        return None
    if query.select_for_update or query.combinator or query.deferred_loading != (frozenset(), True):
        return None
    where = placement()
    alias = queryset.db
    foreign = where.foreign_tables.get(alias)  # a replica's: its primary's (placement)
    model = queryset.model
    if not foreign or model._meta.db_table in foreign:
        return None
    if requested is True:
        found = _split_all(model, alias, query.max_depth, where, foreign)
        if found is None:
            return None
        keep, crossing = copy.deepcopy(found[0]), found[1]  # the cached tree stays as it is
    else:
        keep, crossing = split(model, requested, foreign)
        if not crossing:
            return None
    theirs = {str(lookup.prefetch_to) for lookup in queryset._prefetch_related_lookups if isinstance(lookup, Prefetch)}
    lookups: list[str | Prefetch] = []
    for path, (related, below) in crossing.items():
        if path in theirs:  # the caller prefetches it with a queryset of their own
            continue
        if below:
            lookups.append(Prefetch(path, queryset=related._base_manager.select_related(*_paths(below))))
        else:
            lookups.append(path)
    clone = queryset._chain()
    clone.query.select_related = keep or False
    # Before the caller's own lookups: theirs may go through these paths.
    clone._prefetch_related_lookups = (*lookups, *queryset._prefetch_related_lookups)
    return clone


# -- the replaced methods --------------------------------------------------------------


def _fetch_all_wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def _fetch_all(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        if self._result_cache is None and self.query.select_related:
            clone = prepared(self)
            if clone is not None:
                original(clone, *args, **kwargs)  # the rows, then every prefetch (ours and theirs)
                self._result_cache = clone._result_cache
                self._prefetch_done = True
                return None
        return original(self, *args, **kwargs)

    _fetch_all.__doc__ = original.__doc__
    return _fetch_all


def _iterator_wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def _iterator(self: QuerySet[Any], use_chunked_fetch: bool, chunk_size: int | None, *args: Any,
                  **kwargs: Any) -> Any:
        if self.query.select_related:
            clone = prepared(self)
            if clone is not None:
                # Django prefetches per chunk only when given a chunk size: give its default.
                return original(clone, use_chunked_fetch, chunk_size or CHUNK_SIZE, *args, **kwargs)
        return original(self, use_chunked_fetch, chunk_size, *args, **kwargs)

    _iterator.__doc__ = original.__doc__
    return _iterator


def _aiterator_wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def aiterator(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        if self.query.select_related:
            clone = prepared(self)
            if clone is not None:
                return original(clone, *args, **kwargs)
        return original(self, *args, **kwargs)

    aiterator.__doc__ = original.__doc__
    return aiterator


def _queryset() -> type:
    return QuerySet


FEATURE = Feature(
    key="CROSS_DATABASE_SELECT_RELATED",
    summary="Run the hops of select_related() that cross databases as one prefetch each on the other alias.",
    patches=(
        Patch(_queryset, "_fetch_all", _fetch_all_wrap),
        Patch(_queryset, "_iterator", _iterator_wrap, assumes=("self", "use_chunked_fetch", "chunk_size")),
        # aiterator() prefetches since Django 5.0 (4.2 refuses prefetch_related() there).
        Patch(_queryset, "aiterator", _aiterator_wrap, versions=((5, 0), (6, 1))),
    ),
    needed=lambda: placement().routed,
)
