"""Generic relations (``django.contrib.contenttypes``) across databases.

``contenttypes`` looks content types and generic objects up on an alias it
picks itself, not through the router: the database of the instance at hand.
That fails as soon as the content types, the tagged object and the tag do not
share one database. ``book.tags`` (a ``GenericRelation`` on a ``shop_db`` model)
asks ``shop_db`` for the book's content type, ``tag.content_object`` asks
``default`` for the book, and ``book.delete()`` looks for the book's tags on
``shop_db``. The join guard refuses each of these queries, because the table
does not live there.

Each of those lookups is replaced, while the ``GENERIC_RELATIONS`` switch is
on (:data:`FEATURE`), to run where the table lives. The alias Django picked is kept whenever the table is there, so a
replica or a one-database project sees no change.

* ``ContentType.objects.db_manager(alias)``: the content-type lookups
  (``get_for_model``, ``get_for_models``, ``get_for_id``) and their cache.
* ``ContentType.get_object_for_this_type`` and
  ``get_all_objects_for_this_type``: ``tag.content_object`` and
  ``prefetch_related("content_object")``. On Django 5.1 and later both already
  let the routers decide when no alias is given (``using=None``), so that
  decision is left alone (a replica router must be able to pick its alias), and
  ``get_all_objects_for_this_type`` is not replaced at all.
* ``GenericRelation.bulk_related_objects``: what deleting the object deletes
  through the relation (``book.delete()`` deletes its tags). The cross-database
  delete (:mod:`djcfg_env.orm.cross_delete`) then deletes those rows on their own
  database, in the same ``.delete()``.

``GenericRelatedObjectManager`` (``book.tags.all()``, ``.create()``,
``prefetch_related("tags")``) already asks the router, so it needs nothing
beyond the content-type lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, QuerySet

from .placement import home_alias, placement
from .switches import Feature, Patch

__all__ = ["FEATURE", "alias_with_table"]

#: Django 5.1 made ContentType.get_object_for_this_type(using=None) and
#: get_all_objects_for_this_type() ask the routers.
_ROUTERS_DECIDE = (5, 1)


def alias_with_table(model: type[Model], alias: str | None) -> str | None:
    """``alias`` if ``model``'s table lives there, else the alias the model lives on.

    A replica (``replica_of=``) has its primary's tables. ``None`` (no alias
    chosen: the routers decide) stays ``None``.
    """
    if alias is None:
        return None
    if model._meta.db_table in placement().foreign_tables.get(alias, ()):
        return home_alias(model)
    return alias


def _objects_of(content_type: Any, using: str | None) -> QuerySet[Any]:
    """The content type's model's rows, on ``using`` if its table is there (None: the routers)."""
    model = content_type.model_class()
    assert model is not None, f"content type {content_type.app_label}.{content_type.model} has no model"
    return model._base_manager.using(alias_with_table(model, using))


def _db_manager(original: Callable[..., Any]) -> Callable[..., Any]:
    from django.contrib.contenttypes.models import ContentType

    def db_manager(self: Any, using: str | None = None, *args: Any, **kwargs: Any) -> Any:
        # Content types (and the manager's per-alias cache) come from where they live.
        return original(self, alias_with_table(ContentType, using), *args, **kwargs)

    return db_manager


def _get_object_for_this_type(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_object_for_this_type(self: Any, using: str | None = None, **kwargs: Any) -> Model:
        return _objects_of(self, using).get(**kwargs)  # type: ignore[no-any-return]

    return get_object_for_this_type


def _get_object_for_this_type_42(original: Callable[..., Any]) -> Callable[..., Any]:
    # Before Django 5.1 there is no ``using``: the content type's own database is used.
    def get_object_for_this_type(self: Any, **kwargs: Any) -> Model:
        return _objects_of(self, self._state.db).get(**kwargs)  # type: ignore[no-any-return]

    return get_object_for_this_type


def _get_all_objects_for_this_type_42(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_all_objects_for_this_type(self: Any, **kwargs: Any) -> QuerySet[Any]:
        return _objects_of(self, self._state.db).filter(**kwargs)

    return get_all_objects_for_this_type


def _bulk_related_objects(original: Callable[..., Any]) -> Callable[..., Any]:
    def bulk_related_objects(
        self: Any, objs: Iterable[Model], using: str = DEFAULT_DB_ALIAS, *args: Any, **kwargs: Any
    ) -> QuerySet[Any]:
        # The rows that point at objs, looked for on the alias where they live.
        alias = alias_with_table(self.remote_field.model, using) or using
        return original(self, objs, alias, *args, **kwargs)  # type: ignore[no-any-return]

    return bulk_related_objects


def _manager() -> type:
    from django.contrib.contenttypes.models import ContentTypeManager

    return ContentTypeManager


def _content_type() -> type:
    from django.contrib.contenttypes.models import ContentType

    return ContentType


def _generic_relation() -> type:
    from django.contrib.contenttypes.fields import GenericRelation

    return GenericRelation


_CONTENTTYPES = "django.contrib.contenttypes"

FEATURE = Feature(
    key="GENERIC_RELATIONS",
    summary="Look content types, generic objects and GenericRelation rows up where each table lives.",
    patches=(
        Patch(_manager, "db_manager", _db_manager, assumes=("self", "using"), needs_app=_CONTENTTYPES),
        Patch(_content_type, "get_object_for_this_type", _get_object_for_this_type,
              assumes=("self", "using"), needs_app=_CONTENTTYPES,
              versions=(_ROUTERS_DECIDE, (6, 1))),
        Patch(_content_type, "get_object_for_this_type", _get_object_for_this_type_42,
              assumes=("self",), needs_app=_CONTENTTYPES,
              versions=((4, 2), _ROUTERS_DECIDE)),
        Patch(_content_type, "get_all_objects_for_this_type", _get_all_objects_for_this_type_42,
              assumes=("self",), needs_app=_CONTENTTYPES, versions=((4, 2), _ROUTERS_DECIDE)),
        Patch(_generic_relation, "bulk_related_objects", _bulk_related_objects,
              assumes=("self", "objs", "using"), needs_app=_CONTENTTYPES),
    ),
    needed=lambda: placement().routed,
)
