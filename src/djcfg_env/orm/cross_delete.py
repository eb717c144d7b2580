"""``on_delete`` across databases: one deletion collector per alias, one ``.delete()`` for all.

Django's deletion ``Collector`` works on one database: when ``user.delete()``
runs on ``default`` it looks for the user's posts in ``default`` too, and fails
("relation blog_post does not exist") or, worse, reads a stray table of that
name. This module teaches ``Collector`` (every one of them: ``Model.delete()``,
``QuerySet.delete()``, and subclasses) to follow a relation into the database
its model lives on:

* collection: a relation whose two models live on different aliases is looked
  up on the related model's alias, and whatever its ``on_delete`` schedules
  there (CASCADE's recursive collection, SET_NULL/SET_DEFAULT/SET updates,
  RESTRICT's restricted set) goes to a sibling collector for that alias.
  Siblings share one group, so a chain default -> blog_db -> shop_db (or back)
  lands each object in the collector of its own database. PROTECT raises from
  the collection and RESTRICT is checked for every sibling once everything is
  collected, so both refuse before any SQL that changes data is sent anywhere.
* deletion: ``delete()`` on the collector Django made opens a transaction on
  every alias of the group, deletes the other databases' rows first and its
  own last, and returns the summed counts (``{"blog.Post": 2, ...}`` included).
  An error anywhere rolls every database back. The commits happen one after
  the other (no two-phase commit): if a database fails *at commit*, the
  databases committed before it keep their changes (see docs/relations.md).
  Django's ``delete()`` sets each deleted instance's primary key to None; when
  a database rolls back, its instances get their primary key back (as plain
  Django leaves it when its commit fails), so the same ``.delete()`` can be
  run again on the same instance.

The admin's delete confirmation page collects with ``NestedObjects``, a
``Collector`` subclass, so it gets the same: its siblings share the tree of
objects it shows (``edges``, ``model_objs``, ``protected``), and its
``select_related()`` on the relation that led to each row is kept only where
that relation stays within one database (elsewhere it would be a
cross-database join).

Nothing changes for relations whose two models live on the same alias, so a
one-database project behaves exactly as with plain Django.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from django.db import transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.deletion import Collector, RestrictedError

from .placement import home_alias, placement
from .readonly import ensure_writable
from .replicas import primary_of
from .switches import Feature, Patch

__all__ = ["FEATURE"]

_GROUP = "_djcfg_env_group"

#: Django's Collector methods, as they were when the feature was installed.
_originals: dict[str, Callable[..., Any]] = {}

#: What a collector subclass keeps about the whole delete rather than its own
#: database: the admin's NestedObjects builds the confirmation page's tree in
#: these, so every sibling adds to the root's.
_SHARED_STATE = ("edges", "model_objs", "protected")


class _Group:
    """The collectors of one ``.delete()``: the root Django made and one sibling per other alias."""

    __slots__ = ("root", "members")

    def __init__(self, root: Collector) -> None:
        self.root = root
        self.members: dict[str, Collector] = {root.using: root}


def _group(collector: Collector) -> _Group:
    group: _Group | None = collector.__dict__.get(_GROUP)
    if group is None:
        group = _Group(collector)
        collector.__dict__[_GROUP] = group
    return group


def _collector_for(collector: Collector, objs: object) -> Collector:
    """The collector that owns ``objs``: ``collector`` itself, or its sibling on ``objs``' alias.

    Only a QuerySet whose database differs from the collector's is moved: that
    is exactly what :func:`_related_objects` hands to an ``on_delete`` handler
    for a cross-database relation. Django's own calls (model instances, or
    querysets on the collector's database) stay where they are.
    """
    if not isinstance(objs, QuerySet):
        return collector
    alias = primary_of(objs.db)  # rows read from a replica are deleted on its primary
    if alias == collector.using:
        return collector
    group = _group(collector)
    sibling = group.members.get(alias)
    if sibling is None:
        sibling = type(collector)(using=alias, origin=collector.origin)
        sibling.__dict__[_GROUP] = group
        for name in _SHARED_STATE:
            if name in collector.__dict__:
                sibling.__dict__[name] = collector.__dict__[name]
        group.members[alias] = sibling
    return sibling


def _crosses(field: Field) -> bool:
    """Whether ``field`` (a relation) links models that live on two different aliases."""
    return home_alias(field.model) != home_alias(field.remote_field.model)


# -- the patched Collector methods ------------------------------------------


#: collect(self, objs, source, nullable, collect_related, source_attr,
#: reverse_dependency, keep_parents, fail_on_restricted): the position of
#: fail_on_restricted among the arguments after ``objs``.
_FAIL_ON_RESTRICTED = 6


def _collect(self: Collector, objs: Any, *args: Any, **kwargs: Any) -> None:
    if len(args) > _FAIL_ON_RESTRICTED:
        kwargs["fail_on_restricted"] = args[_FAIL_ON_RESTRICTED]
        args = args[:_FAIL_ON_RESTRICTED]
    fail_on_restricted = kwargs.pop("fail_on_restricted", True)
    owner = _collector_for(self, objs)
    if owner is not self:
        # Cascading into another database: the sibling collects there,
        # following that database's own relations (recursively). Django's
        # collect, not the subclass's: a subclass's own collect() (NestedObjects')
        # has already seen these objects, on the collector on_delete was given.
        _originals["collect"](owner, objs, *args, fail_on_restricted=False, **kwargs)
        return
    _originals["collect"](self, objs, *args, fail_on_restricted=fail_on_restricted, **kwargs)
    if fail_on_restricted:
        group: _Group | None = self.__dict__.get(_GROUP)
        if group is not None:
            for sibling in list(group.members.values()):
                if sibling is not self:
                    _raise_if_restricted(sibling, objs)


def _raise_if_restricted(collector: Collector, objs: Any) -> None:
    """Django's end-of-collection RESTRICT check, for a sibling collector.

    A restricted object is fine if the same delete also collects it through a
    CASCADE (in the same database, as a restricted object's cascade always is).
    """
    for model, instances in collector.data.items():
        collector.clear_restricted_objects_from_set(model, instances)
    for qs in collector.fast_deletes:
        collector.clear_restricted_objects_from_queryset(qs.model, qs)
    restricted: dict[str, list[Model]] = defaultdict(list)
    for related_model, fields in collector.restricted_objects.items():
        for field, instances in fields.items():
            if instances:
                restricted[f"'{related_model.__name__}.{field.name}'"] += instances
    if restricted:
        model = objs.model if isinstance(objs, QuerySet) else type(next(iter(objs)))
        raise RestrictedError(
            f"Cannot delete some instances of model {model.__name__!r} because they are "
            f"referenced through restricted foreign keys: {', '.join(restricted)}.",
            set(chain.from_iterable(restricted.values())),
        )


def _related_objects(
    self: Collector, related_model: type[Model], related_fields: list[Field], objs: Iterable[Model]
) -> QuerySet[Any]:
    queryset: QuerySet[Any] = _originals["related_objects"](self, related_model, related_fields, objs)
    if related_fields and _crosses(related_fields[0]):
        # Look for the related rows where they live, not on the collector's alias.
        queryset = queryset.using(home_alias(related_model))
    return queryset


def _nested_related_objects(
    self: Collector, related_model: type[Model], related_fields: list[Field], objs: Iterable[Model]
) -> QuerySet[Any]:
    # NestedObjects.related_objects, minus select_related() across databases.
    queryset = Collector.related_objects(self, related_model, related_fields, objs)
    names = [field.name for field in related_fields if not _crosses(field)]
    # (select_related() with no names would follow every foreign key: only call it with some.)
    return queryset.select_related(*names) if names else queryset


def _can_fast_delete(self: Collector, objs: Any, *args: Any, **kwargs: Any) -> bool:
    # can_fast_delete(self, objs, from_field=None)
    from_field = args[0] if args else kwargs.get("from_field")
    if from_field is not None and _crosses(from_field):
        # A fast delete runs on this collector's database; cross-database rows
        # go through the sibling collector instead.
        return False
    return bool(_originals["can_fast_delete"](self, objs, *args, **kwargs))


def _add_field_update(self: Collector, field: Field, value: Any, objs: Any) -> None:
    owner = _collector_for(self, objs)
    _originals["add_field_update"](owner, field, value, objs)


def _add_restricted_objects(self: Collector, field: Field, objs: Any) -> None:
    owner = _collector_for(self, objs)
    _originals["add_restricted_objects"](owner, field, objs)


def _delete(self: Collector, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
    group: _Group | None = self.__dict__.get(_GROUP)
    if group is None or group.root is not self or len(group.members) == 1:
        return _originals["delete"](self, *args, **kwargs)  # type: ignore[no-any-return]
    siblings = [member for member in group.members.values() if member is not self]
    for collector in siblings:
        # A cascade must not reach a read-only alias: refuse before any write anywhere.
        for model in chain(
            collector.data, (qs.model for qs in collector.fast_deletes), _updated_models(collector)
        ):
            ensure_writable(model, collector.using, "delete")
    counts: Counter[str] = Counter()
    total = 0
    keys = {alias: _primary_keys(collector) for alias, collector in group.members.items()}
    committed: set[str] = set()
    try:
        with contextlib.ExitStack() as stack:
            # Every database's transaction is open before the first DELETE, and
            # none commits before the last one ran: an error rolls all of them back.
            for alias in group.members:
                # Pushed before its atomic, so it runs after that atomic's exit:
                # no exception there means this database committed.
                stack.push(_committed_marker(committed, alias))
                stack.enter_context(transaction.atomic(using=alias, savepoint=False))
            for collector in [*siblings, self]:
                deleted, per_model = _originals["delete"](collector, *args, **kwargs)
                total += deleted
                counts.update(per_model)
    except BaseException:
        # Django cleared the primary key of every instance it deleted; in the
        # databases that rolled back those rows are still there.
        for alias, saved in keys.items():
            if alias not in committed:
                for instance, attname, value in saved:
                    setattr(instance, attname, value)
        raise
    return total, dict(counts)


def _primary_keys(collector: Collector) -> list[tuple[Model, str, Any]]:
    """(instance, primary key attribute, value) of every instance a collector will delete."""
    return [
        (instance, model._meta.pk.attname, getattr(instance, model._meta.pk.attname))
        for model, instances in collector.data.items()
        for instance in instances
    ]


def _committed_marker(committed: set[str], alias: str) -> Callable[..., bool]:
    def exit_(exc_type: object, exc: object, tb: object) -> bool:
        if exc_type is None:
            committed.add(alias)
        return False

    return exit_


def _updated_models(collector: Collector) -> Iterable[type[Model]]:
    """The models a collector will UPDATE (SET_NULL, SET_DEFAULT, SET)."""
    return (field.model for field, _value in collector.field_updates)


def _keeping(name: str, replacement: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A Patch.wrap that remembers Django's method under ``name`` and installs ``replacement``."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        _originals[name] = original
        return replacement

    return wrap


def _collector() -> type:
    return Collector


def _nested_objects() -> type:
    from django.contrib.admin.utils import NestedObjects

    return NestedObjects


FEATURE = Feature(
    key="CROSS_DATABASE_DELETE",
    summary="Follow on_delete into the database each related model lives on, in one .delete().",
    patches=(
        Patch(_collector, "collect", _keeping("collect", _collect),
              assumes=("self", "objs", "source", "nullable", "collect_related", "source_attr",
                       "reverse_dependency", "keep_parents", "fail_on_restricted")),
        Patch(_collector, "related_objects", _keeping("related_objects", _related_objects),
              assumes=("self", "related_model", "related_fields", "objs")),
        Patch(_collector, "can_fast_delete", _keeping("can_fast_delete", _can_fast_delete),
              assumes=("self", "objs", "from_field")),
        Patch(_collector, "add_field_update", _keeping("add_field_update", _add_field_update),
              assumes=("self", "field", "value", "objs")),
        Patch(_collector, "add_restricted_objects",
              _keeping("add_restricted_objects", _add_restricted_objects),
              assumes=("self", "field", "objs")),
        Patch(_collector, "delete", _keeping("delete", _delete)),
        Patch(_nested_objects, "related_objects", lambda original: _nested_related_objects,
              assumes=("self", "related_model", "related_fields", "objs"),
              needs_app="django.contrib.admin"),
    ),
    needed=lambda: placement().routed,
    disconnect=_originals.clear,
)
