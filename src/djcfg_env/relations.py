"""Relations across databases: ``on_delete`` across aliases and the cross-database join guard.

:func:`install` is called once by the ``djcfg_env`` app's ``ready()``:

* :mod:`djcfg_env.cross_delete` makes ``.delete()`` (instance and queryset)
  follow ``on_delete`` into the database each related model lives on, and
  count what it deleted there;
* :mod:`djcfg_env.join_guard` raises :class:`CrossDatabaseJoinError` before a
  query that would join (or subquery) a table of another database is sent;
* :mod:`djcfg_env.generic_relations` makes contenttypes' generic relations
  (``GenericForeignKey``, ``GenericRelation``) look each row up where it lives;
* :mod:`djcfg_env.placement` holds the model -> alias table both use, built
  once from the routers and rebuilt when a test overrides database settings.

Forward access (``post.author``), reverse managers (``user.blog_posts``),
``prefetch_related`` both ways and assignment (``Post(author=user)``) need
nothing here: the router sends each query to its model's alias and allows
relations between configured aliases. See docs/relations.md.
"""

from __future__ import annotations

from . import cross_delete, generic_relations, join_guard, placement
from .join_guard import CrossDatabaseJoinError

__all__ = ["install", "CrossDatabaseJoinError"]


def install() -> None:
    """Connect the cross-database relation handling (idempotent; called from the app's ready())."""
    placement.connect()
    cross_delete.install()
    generic_relations.install()
    join_guard.install()
