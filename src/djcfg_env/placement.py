"""Where each model's table lives: one table built from the routers, used per query and per delete.

The cross-database delete (:mod:`djcfg_env.cross_delete`) needs "which alias
does this model live on?" for every relation it follows, and the join guard
(:mod:`djcfg_env.join_guard`) needs "which tables are *not* on this alias?" for
every query it compiles. Asking the routers each time would cost a router
round per relation per query, so both answers are computed once, the first
time they are needed, from Django's own ``router`` (so whatever
``DATABASE_ROUTERS`` says, :class:`djcfg_env.router.AppDatabaseRouter` or not),
and rebuilt only when a test changes the database settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.db import router
from django.db.models import Model

from .routes import read_only_aliases

__all__ = ["Placement", "placement", "home_alias", "reset"]

#: Settings whose change invalidates the table (connected in :func:`connect`).
_WATCHED = frozenset(
    {"DATABASES", "DATABASE_ROUTERS", "DATABASE_ROUTING_RULES", "READ_ONLY_DATABASES", "INSTALLED_APPS"}
)


@dataclass(frozen=True)
class Placement:
    """The placement of every installed model, computed once."""

    #: model -> the alias its rows are written to (``router.db_for_write``).
    home: Mapping[type[Model], str]
    #: alias -> {table name: a model using that table} for tables that do NOT live
    #: on that alias. Empty for an alias that can see every table (one database,
    #: or no router that separates apps).
    foreign_tables: Mapping[str, Mapping[str, type[Model]]]
    #: table name -> the alias its model lives on (``home`` by table).
    table_home: Mapping[str, str]
    #: the read-only aliases (``READ_ONLY_DATABASES``): replicas or warehouses.
    read_only: frozenset[str]

    @property
    def separates_databases(self) -> bool:
        """Whether any alias is missing any table (if not, nothing needs guarding)."""
        return any(self.foreign_tables.values())


_current: Placement | None = None


def _lives_on(model: type[Model], alias: str) -> bool:
    """Whether ``model``'s table is expected on ``alias``.

    True when the routers read it there, write it there, or migrate it there:
    a replica router that reads from ``replica`` while writing to ``default``
    must not make ``replica``'s tables look foreign.
    """
    return (
        router.db_for_read(model) == alias
        or router.db_for_write(model) == alias
        or router.allow_migrate_model(alias, model)
    )


def _build() -> Placement:
    aliases = list(settings.DATABASES)
    models = list(apps.get_models(include_auto_created=True))
    home = {model: router.db_for_write(model) for model in models}
    by_table: dict[str, list[type[Model]]] = {}
    for model in models:
        by_table.setdefault(model._meta.db_table, []).append(model)
    foreign: dict[str, Mapping[str, type[Model]]] = {}
    for alias in aliases:
        missing = {
            table: owners[0]
            for table, owners in by_table.items()
            if not any(_lives_on(model, alias) for model in owners)
        }
        foreign[alias] = MappingProxyType(missing)
    table_home = {table: home[owners[0]] for table, owners in by_table.items()}
    return Placement(
        home=MappingProxyType(home),
        foreign_tables=MappingProxyType(foreign),
        table_home=MappingProxyType(table_home),
        read_only=read_only_aliases(),
    )


def placement() -> Placement:
    """The current placement, built on first use (after the app registry is ready)."""
    global _current
    current = _current
    if current is None:
        current = _current = _build()
    return current


def home_alias(model: type[Model]) -> str:
    """The alias ``model`` lives on: from the table, or the router for models not in it.

    Models outside the table are migration-time historical models and the like;
    for those the router is asked directly (uncached, they are rare).
    """
    alias = placement().home.get(model)
    if alias is None:
        alias = router.db_for_write(model)
    return alias


def reset(*, setting: str | None = None, **kwargs: object) -> None:
    """Forget the table (a ``setting_changed`` receiver; also callable directly)."""
    global _current
    if setting is None or setting in _WATCHED:
        _current = None


def connect() -> None:
    """Rebuild the table when a test overrides a database setting."""
    setting_changed.connect(reset, dispatch_uid="djcfg_env.placement.reset")
