"""``AppDatabaseRouter``: each app's models on the alias its ``DB_ROUTE_*`` names.

Every answer comes from :mod:`djcfg_env.orm.placement`, the one place that
knows where a model lives, so the router, the checks, the guards and
``migrate_all`` can never disagree:

* writes: the model's alias (its app's route, else ``default``; a proxy goes
  where its concrete model's table is). The route always wins over instance
  hints, so ``user.blog_posts.all()`` reads the blog alias and ``post.author``
  reads ``default``.
* reads: the same alias, or, when that alias (a primary) has read replicas
  (``replica_of=``) and the ``REPLICAS`` switch is on, the replica this
  context reads it from (:func:`djcfg_env.orm.replicas.read`: the primary
  itself inside ``atomic()`` on it, inside ``use_primary()``, after a write to
  it in this context, or while pinned). A write to such a primary is recorded
  for the context (:func:`djcfg_env.orm.replicas.wrote`).
* ``allow_migrate``: an app's tables only on its own alias, nothing at all on a
  read-only alias (a replica is one).
* ``allow_relation``: any two objects whose aliases are both configured (a
  primary and its replicas are one database).

Creating a router changes no process state: the guards are installed by the
``djcfg_env`` app's ``ready()`` (see :mod:`djcfg_env.orm.switches`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from .orm import placement as _placement
from .orm import readonly as _readonly
from .orm import replicas as _replicas

__all__ = ["AppDatabaseRouter"]

_HOME = _placement.HOME
_home_alias = _placement.home_alias
#: primary -> replicas while the REPLICAS switch is installed (bound once, filled in place).
_REPLICATED = _replicas.REPLICATED
_ready = _replicas.READY.get
_choose = _replicas.choose
_replica_wrote = _replicas.wrote


def _read(model: type[Model], instance: Any = None, **hints: Any) -> str:
    # Django calls getattr(router, "db_for_read")(model, **hints) on every query:
    # two dict lookups in the common case. ``instance`` is named so that the usual
    # hint is not copied into a fresh ``**hints`` dict.
    try:
        alias = _HOME[model]
    except KeyError:
        alias = _home_alias(model)
    if alias in _REPLICATED:
        # replicas.read(alias), inlined: this context's cached choice while it is fresh.
        entry = _ready().get(alias)
        if entry is not None and entry[1] > _replicas._clock():
            return entry[0]
        return _choose(alias)
    return alias


def _write(model: type[Model], instance: Any = None, **hints: Any) -> str:
    try:
        alias = _HOME[model]
    except KeyError:
        alias = _home_alias(model)
    if alias in _REPLICATED:
        _replica_wrote(alias)
    return alias


class AppDatabaseRouter:
    """Routes each app's models to the alias ``DB_ROUTE_<APP_LABEL>`` names.

    Put in ``DATABASE_ROUTERS`` by ``from djcfg_env.settings import *``. Holds no
    state of its own: a test that overrides ``DATABASE_ROUTING_RULES`` or
    ``DATABASES`` is seen by the next query.
    """

    def __init__(self) -> None:
        from django.apps import apps

        if apps.apps_ready and not apps.is_installed("djcfg_env"):
            raise ImproperlyConfigured(
                "djcfg_env.router.AppDatabaseRouter is in DATABASE_ROUTERS, but 'djcfg_env' is not "
                "in INSTALLED_APPS: without the app, deleting a row does not follow on_delete into "
                "the other databases (rows there are orphaned), read-only aliases are not guarded "
                "and the system checks do not run. Add 'djcfg_env' to INSTALLED_APPS."
            )

    #: The alias of the model's app, or one of its replicas; hints (``instance=``) never override it.
    db_for_read = staticmethod(_read)
    #: The alias of the model's app (a primary); a write is recorded for the context.
    db_for_write = staticmethod(_write)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        """Allow a relation between two objects whose aliases are both configured.

        This is what lets ``Post(author=user)`` link a ``blog_db`` post to a
        ``default`` user, and a post read from a replica of ``blog_db`` link to
        one read from ``blog_db``. An unsaved object without an alias counts as being on
        its model's alias. Refused (Django then raises ``ValueError``) when an
        object carries an alias that is not in ``DATABASES``.
        """
        aliases = _placement.placement().aliases
        db1 = obj1._state.db or _home_alias(type(obj1))
        db2 = obj2._state.db or _home_alias(type(obj2))
        return db1 in aliases and db2 in aliases

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        """Create an app's tables only on its own alias, nothing on a read-only one.

        Inside :func:`djcfg_env.allow_writes` for a read-only alias, that alias
        counts as writable here too, so ``loaddata --database`` (or a test's own
        ``migrate``) can fill it.

        Django still creates its bookkeeping table ``django_migrations`` on every
        alias it migrates.
        """
        where = _placement.placement()
        if db not in where.aliases or (db in where.read_only and not _readonly.lifted(db)):
            return False
        model = hints.get("model")
        if isinstance(model, type) and issubclass(model, Model):
            return where.model_alias(model) == db
        return where.app_alias(app_label) == db

    def __repr__(self) -> str:
        where = _placement.placement()
        routes = ", ".join(f"{label}->{alias}" for label, alias in sorted(where.rules.items()))
        return f"<AppDatabaseRouter routes=[{routes}] read_only=[{', '.join(sorted(where.read_only))}]>"
