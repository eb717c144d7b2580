"""Generic relations (``django.contrib.contenttypes``) across databases.

``contenttypes`` looks content types and generic objects up on an alias it
picks itself, not through the router: the database of the instance at hand.
That fails as soon as the content types, the tagged object and the tag do not
share one database. ``book.tags`` (a ``GenericRelation`` on a ``shop_db`` model)
asks ``shop_db`` for the book's content type, ``tag.content_object`` asks
``default`` for the book, and ``book.delete()`` looks for the book's tags on
``shop_db``. The join guard refuses each of these queries, because the table
does not live there.

Each of those lookups is patched (in place, once) to run where the table
lives. The alias Django picked is kept whenever the table is there, so a
replica or a one-database project sees no change.

* ``ContentType.objects.db_manager(alias)``: the content-type lookups
  (``get_for_model``, ``get_for_models``, ``get_for_id``) and their cache.
* ``ContentType.get_object_for_this_type`` and
  ``get_all_objects_for_this_type``: ``tag.content_object`` and
  ``prefetch_related("content_object")``.
* ``GenericRelation.bulk_related_objects``: what deleting the object deletes
  through the relation (``book.delete()`` deletes its tags). The cross-database
  delete (:mod:`djcfg_env.cross_delete`) then deletes those rows on their own
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

__all__ = ["install", "uninstall", "installed", "alias_with_table"]

#: (class, attribute) -> what the class itself had (None: inherited), while patched.
_originals: dict[tuple[type, str], Callable[..., Any] | None] = {}


def alias_with_table(model: type[Model], alias: str | None) -> str | None:
    """``alias`` if ``model``'s table lives there, else the alias the model lives on.

    ``None`` (no alias chosen: the routers decide) stays ``None``.
    """
    if alias is None:
        return None
    if model._meta.db_table in placement().foreign_tables.get(alias, ()):
        return home_alias(model)
    return alias


def _patches() -> dict[tuple[type, str], Callable[..., Any]]:
    from django.contrib.contenttypes.fields import GenericRelation
    from django.contrib.contenttypes.models import ContentType, ContentTypeManager

    db_manager = ContentTypeManager.db_manager

    def content_type_db_manager(
        self: ContentTypeManager, using: str | None = None, hints: dict[str, Any] | None = None
    ) -> ContentTypeManager:
        # Content types (and the manager's per-alias cache) come from where they live.
        return db_manager(self, alias_with_table(ContentType, using), hints)  # type: ignore[no-any-return]

    def objects_of(content_type: ContentType, using: str | None) -> QuerySet[Any]:
        # The content type's model's rows, on ``using`` if its table is there.
        model = content_type.model_class()
        assert model is not None, f"content type {content_type.app_label}.{content_type.model} has no model"
        return model._base_manager.using(alias_with_table(model, using))

    def get_object_for_this_type(self: ContentType, using: str | None = None, **kwargs: Any) -> Model:
        return objects_of(self, using or self._state.db).get(**kwargs)  # type: ignore[no-any-return]

    def get_all_objects_for_this_type(self: ContentType, **kwargs: Any) -> QuerySet[Any]:
        return objects_of(self, self._state.db).filter(**kwargs)

    bulk_related_objects = GenericRelation.bulk_related_objects

    def generic_bulk_related_objects(
        self: GenericRelation, objs: Iterable[Model], using: str = DEFAULT_DB_ALIAS
    ) -> QuerySet[Any]:
        # The rows that point at objs, looked for on the alias where they live.
        alias = alias_with_table(self.remote_field.model, using) or using
        return bulk_related_objects(self, objs, alias)  # type: ignore[no-any-return]

    return {
        (ContentTypeManager, "db_manager"): content_type_db_manager,
        (ContentType, "get_object_for_this_type"): get_object_for_this_type,
        (ContentType, "get_all_objects_for_this_type"): get_all_objects_for_this_type,
        (GenericRelation, "bulk_related_objects"): generic_bulk_related_objects,
    }


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return bool(_originals)


def install() -> None:
    """Patch contenttypes' lookups in place (idempotent; only with contenttypes installed)."""
    from django.apps import apps

    if _originals or not apps.is_installed("django.contrib.contenttypes"):
        return
    for (owner, name), replacement in _patches().items():
        _originals[owner, name] = owner.__dict__.get(name)
        setattr(owner, name, replacement)


def uninstall() -> None:
    """Undo :func:`install`."""
    for (owner, name), original in _originals.items():
        if original is None:
            delattr(owner, name)  # it was inherited: let the base class answer again
        else:
            setattr(owner, name, original)
    _originals.clear()
