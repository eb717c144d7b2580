"""Where each model lives: the one answer to "which alias does this model live on".

The answer comes from the routes (``settings.DATABASE_ROUTING_RULES``, app label
-> alias, published by ``from djcfg_env.settings import *``): a model lives on
the alias its app is routed to, else on ``default``. A proxy model lives where
its concrete model's table lives, whichever app declares it. Everything asks
here and nowhere else: the router (reads, writes, ``allow_migrate``), the
checks, the read-only guard, the join guard, the cross-database delete, the
generic relations and ``migrate_all``.

Built once, on first use, from the settings; forgotten when a test overrides a
database setting (:func:`reset`, connected by the ``djcfg_env`` app). The
per-model answers live in one plain dict (:data:`HOME`) that is filled as models
are first seen and cleared (never replaced) on reset, so the router can bind it
once and answer each query with one dict lookup.

Read replicas (``settings.DATABASE_REPLICAS``, primary -> replica aliases) are
part of the placement too: a model's home is always the primary; a replica holds
its primary's tables (by replication), so it counts as the same database for what
is foreign where (:attr:`Placement.foreign_tables`). Only the router's
``db_for_read`` picks a replica.

When no router in ``DATABASE_ROUTERS`` is ``AppDatabaseRouter`` (or a subclass),
djcfg-env does not route this project: every model counts as living on
``default`` and nothing is separated (no table is foreign anywhere), so the
ORM features have nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

__all__ = ["Placement", "placement", "home_alias", "app_alias", "reset", "HOME", "WATCHED_SETTINGS"]

#: Settings whose change invalidates the placement (see :func:`reset`).
WATCHED_SETTINGS = frozenset(
    {
        "DATABASES",
        "DATABASE_ROUTERS",
        "DATABASE_ROUTING_RULES",
        "READ_ONLY_DATABASES",
        "DATABASE_REPLICAS",
        "DATABASE_REPLICA_MAX_LAG",
        "DB_REPLICA_PIN_SECONDS",
        "INSTALLED_APPS",
    }
)

#: model class -> alias, filled on first use of each model, cleared by :func:`reset`.
HOME: dict[type[Model], str] = {}


@dataclass(frozen=True)
class Placement:
    """The routes, the aliases and the read-only ones, as read from the settings."""

    #: app label (lower-cased) -> alias.
    rules: Mapping[str, str]
    #: every configured alias, in ``DATABASES`` order.
    aliases: tuple[str, ...]
    #: the aliases with ``read_only=true`` (``settings.READ_ONLY_DATABASES``).
    read_only: frozenset[str]
    #: whether ``AppDatabaseRouter`` is in ``DATABASE_ROUTERS``.
    routed: bool
    #: primary alias -> its replica aliases (``settings.DATABASE_REPLICAS``), in that order.
    replicas: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: replica alias -> its primary, and every other configured alias -> itself.
    primary_of: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def app_alias(self, app_label: str) -> str:
        """The alias an app's tables live on: its route, else ``default``."""
        return self.rules.get(app_label.lower(), DEFAULT_DB_ALIAS)

    def model_alias(self, model: type[Model]) -> str:
        """The alias ``model``'s table lives on (a proxy: its concrete model's)."""
        meta = model._meta
        concrete = meta.concrete_model or model
        return self.app_alias(concrete._meta.app_label)

    def is_replica(self, alias: str) -> bool:
        """Whether ``alias`` is a replica (``replica_of``) of another alias."""
        return self.primary_of.get(alias, alias) != alias

    @property
    def writable(self) -> list[str]:
        """The aliases that are not read-only, in ``DATABASES`` order."""
        return [alias for alias in self.aliases if alias not in self.read_only]

    @cached_property
    def table_home(self) -> Mapping[str, str]:
        """table name -> the alias its model lives on (every installed model)."""
        from django.apps import apps

        homes: dict[str, str] = {}
        for model in apps.get_models(include_auto_created=True):
            homes.setdefault(model._meta.db_table, self.model_alias(model))
        return MappingProxyType(homes)

    @cached_property
    def table_models(self) -> Mapping[str, type[Model]]:
        """table name -> a model using that table (the first installed one)."""
        from django.apps import apps

        models: dict[str, type[Model]] = {}
        for model in apps.get_models(include_auto_created=True):
            models.setdefault(model._meta.db_table, model)
        return MappingProxyType(models)

    @cached_property
    def foreign_tables(self) -> Mapping[str, Mapping[str, type[Model]]]:
        """alias -> {table: a model of it} for the tables that do NOT live on that alias.

        A replica holds its primary's tables. Empty for every alias when nothing
        is separated (one database and its replicas, or a project djcfg-env does
        not route).
        """
        foreign: dict[str, Mapping[str, type[Model]]] = {}
        for alias in self.aliases:
            primary = self.primary_of.get(alias, alias)
            foreign[alias] = MappingProxyType(
                {
                    table: self.table_models[table]
                    for table, home in self.table_home.items()
                    if home != primary
                }
            )
        return MappingProxyType(foreign)

    @property
    def separates_databases(self) -> bool:
        """Whether any alias is missing any table (if not, nothing needs guarding)."""
        return any(self.foreign_tables.values())


_current: Placement | None = None


def _routed_by_us() -> bool:
    """Whether a router in ``DATABASE_ROUTERS`` is ``AppDatabaseRouter`` (or a subclass)."""
    from django.db import router

    from ..router import AppDatabaseRouter

    return any(isinstance(each, AppDatabaseRouter) for each in router.routers)


def _build() -> Placement:
    routed = _routed_by_us()
    raw_rules = getattr(settings, "DATABASE_ROUTING_RULES", None) or {}
    rules = {str(label).lower(): alias for label, alias in dict(raw_rules).items()} if routed else {}
    aliases = tuple(settings.DATABASES)
    raw_replicas = dict(getattr(settings, "DATABASE_REPLICAS", None) or {})
    replicas = {
        str(primary): tuple(str(each) for each in raw_replicas[primary] if each in settings.DATABASES)
        for primary in raw_replicas
        if primary in settings.DATABASES
    }
    replicas = {primary: each for primary, each in replicas.items() if each}
    primary_of = {alias: alias for alias in aliases}
    primary_of.update({each: primary for primary, group in replicas.items() for each in group})
    return Placement(
        rules=MappingProxyType(rules),
        aliases=aliases,
        read_only=frozenset(getattr(settings, "READ_ONLY_DATABASES", None) or ()),
        routed=routed,
        replicas=MappingProxyType(replicas),
        primary_of=MappingProxyType(primary_of),
    )


def placement() -> Placement:
    """The current placement, built on first use."""
    global _current
    current = _current
    if current is None:
        current = _current = _build()
    return current


def home_alias(model: type[Model]) -> str:
    """The alias ``model`` lives on (cached per model in :data:`HOME`)."""
    try:
        return HOME[model]
    except KeyError:
        alias = HOME[model] = placement().model_alias(model)
        return alias


def app_alias(app_label: str) -> str:
    """The alias an app's tables live on: its route, else ``default``."""
    return placement().app_alias(app_label)


def reset(*, setting: str | None = None, **kwargs: Any) -> bool:
    """Forget the placement (a ``setting_changed`` receiver; also callable directly).

    Returns whether it was forgotten (``setting`` is None or one of
    :data:`WATCHED_SETTINGS`).
    """
    global _current
    if setting is None or setting in WATCHED_SETTINGS:
        _current = None
        HOME.clear()
        return True
    return False
