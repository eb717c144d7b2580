"""System checks for the multi-database setup (ids ``djcfg_env.E###`` / ``djcfg_env.W###``).

Registered when the ``djcfg_env`` app is ready, so ``manage.py check``,
``runserver`` and ``migrate`` run them. Each finds, from the settings and the
installed models alone (no database is contacted), a setup that would fail at
run time, and says how to fix it. See docs/routing.md.

======================  =====================================================
``djcfg_env.E001``      ForeignKey/OneToOneField across aliases without
                        ``db_constraint=False``.
``djcfg_env.E002``      ManyToManyField whose two models or through model are
                        on different aliases.
``djcfg_env.E003``      ``DB_ROUTE_<LABEL>`` names an app label that is not
                        installed.
``djcfg_env.W001``      ``auth`` and ``contenttypes`` on different aliases.
``djcfg_env.W002``      ForeignKey/OneToOneField to ContentType or to the user
                        model across aliases without ``db_constraint=False``
                        (in your own code E001 is reported for it too).
``djcfg_env.W003``      An app with managed models routed to a read-only alias
                        (not a replica: it has its primary's tables; W007).
``djcfg_env.E004``      ``DJCFG_ENV`` is not a dict of known switches with
                        boolean values.
``djcfg_env.W004``      A switched-on feature is not installed: this Django
                        version is outside the versions it supports.
``djcfg_env.W007``      ``DB_ROUTE_<LABEL>`` routes an app directly to a read
                        replica (``replica_of``): its writes are refused.
======================  =====================================================

Where a model lives comes from :mod:`djcfg_env.orm.placement`, the same answer
the router, the guards and ``migrate_all`` use; the routes are read only to
explain (which variable put an app where).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import django
from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Field, Model

from .env.grammar import route_variable
from .orm import switches
from .orm.placement import Placement, placement

__all__ = [
    "check_routes",
    "check_settings",
    "check_relations",
    "check_contrib_apps",
    "check_read_only_apps",
    "check_replica_routes",
    "check_switches",
]

TAG = "djcfg_env"


def _where(where: Placement, app_label: str) -> str:
    """'blog_db' (DB_ROUTE_BLOG) or 'default' (not routed): for messages."""
    alias = where.app_alias(app_label)
    how = route_variable(app_label) if app_label.lower() in where.rules else "not routed"
    return f"'{alias}' ({how})"


def _route_to(app_label: str, alias: str) -> str:
    """How to put an app on an alias, for hints."""
    variable = route_variable(app_label)
    if alias == DEFAULT_DB_ALIAS:
        return f"remove {variable}; unrouted apps are on default"
    return f"set {variable}={alias}"


def _configs(app_configs: Sequence[AppConfig] | None) -> Iterable[AppConfig]:
    return app_configs if app_configs is not None else apps.get_app_configs()


def _models(app_configs: Sequence[AppConfig] | None) -> Iterable[type[Model]]:
    for config in _configs(app_configs):
        for model in config.get_models():
            if not model._meta.proxy:
                yield model


@checks.register(TAG)
def check_routes(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E003: every ``DB_ROUTE_<LABEL>`` must name an installed app label."""
    installed = [config.label for config in apps.get_app_configs()]
    # Routes name labels lower-cased (DB_ROUTE_<APP_LABEL>), so compare that way.
    installed_lower = {label.lower() for label in installed}
    messages: list[checks.CheckMessage] = []
    for label, alias in sorted(placement().rules.items()):
        if label in installed_lower:
            continue
        variable = route_variable(label)
        close = difflib.get_close_matches(label, installed, n=1, cutoff=0.6)
        if close:
            hint = (
                f"Did you mean the app label '{close[0]}'? Rename the variable to "
                f"{route_variable(close[0])}, or add the app '{label}' to INSTALLED_APPS."
            )
        else:
            hint = (
                f"Installed app labels: {', '.join(sorted(installed))}. Route one of them, "
                f"add the app '{label}' to INSTALLED_APPS, or remove {variable}."
            )
        messages.append(
            checks.Error(
                f"{variable} routes the app label '{label}' to '{alias}', but no installed "
                f"app has that label, so the route does nothing.",
                hint=hint,
                obj=variable,
                id="djcfg_env.E003",
            )
        )
    return messages


#: Apps whose foreign key to ContentType is only ever compared by id or read on its own
#: (no query of theirs joins django_content_type), so they may live on any alias: knowledge
#: as data, checked against each app's code. Any other app with such a key gets W002.
CONTENT_TYPE_BY_ID_APPS = frozenset(
    {
        "admin",  # LogEntry: filters by content_type_id; select_related("content_type") is prefetched
        "reversion",  # Version: filters by content_type (an id); history reads select_related("revision__user")
    }
)


def _is_contenttype(model: type[Model]) -> bool:
    return model._meta.label_lower == "contenttypes.contenttype"


def _owned(model: type[Model]) -> bool:
    """Whether the model is the project's own code (not Django's, not an installed package).

    A field in code you own can be changed (E001, E002); one in ``django.contrib``
    or a package under site-packages cannot, so it gets a Warning whose fix is
    a route (W005, W006), never an Error that would stop every command.
    """
    config = model._meta.app_config
    if config is None or config.name == "django" or config.name.startswith("django."):
        return False
    parts = Path(config.path).parts
    return "site-packages" not in parts and "dist-packages" not in parts


def _relation_fields(model: type[Model]) -> Iterable[Field[Any, Any]]:
    for field in model._meta.local_fields:
        if (field.many_to_one or field.one_to_one) and field.remote_field is not None:
            if isinstance(field.related_model, type):
                yield field


def _placed(where: Placement, models: Iterable[type[Model]]) -> str:
    return ", ".join(f"{model._meta.label} on {_where(where, model._meta.app_label)}" for model in models)


def _share(labels: Iterable[str], *, first: bool = False) -> str:
    """The hint's "route these apps to one alias (VARIABLES)" (``first``: at a sentence's start)."""
    ordered = sorted(set(labels))
    return (
        f"{'R' if first else 'r'}oute the apps {', '.join(repr(label) for label in ordered)} to one "
        f"alias ({', '.join(route_variable(label) for label in ordered)})"
    )


@checks.register(checks.Tags.models, TAG)
def check_relations(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E001, W002, W005, E002, W006: relations whose ends are on different aliases and cannot work so."""
    where = placement()
    # With CROSS_DATABASE_FOREIGN_KEYS installed, migrating creates no constraint across databases.
    constraints_skipped = "CROSS_DATABASE_FOREIGN_KEYS" in switches.installed()
    split_contrib = _auth_contenttypes_split(where)
    messages: list[checks.CheckMessage] = []
    for model in _models(app_configs):
        here = where.model_alias(model)
        owned = _owned(model)
        for field in _relation_fields(model):
            target: type[Model] = field.related_model  # type: ignore[assignment]
            there = where.model_alias(target)
            if there == here:
                continue
            name = f"{model._meta.label}.{field.name}"
            app = model._meta.app_label
            if (
                _is_contenttype(target)
                and app not in CONTENT_TYPE_BY_ID_APPS
                and not (split_contrib and app == "auth")  # auth: W001
            ):
                messages.append(
                    checks.Warning(
                        f"{name} is a ForeignKey to ContentType, but the app '{app}' is on "
                        f"{_where(where, app)} and contenttypes on "
                        f"{_where(where, 'contenttypes')}: its content-type lookups join "
                        f"django_content_type, which one database cannot do across two. The apps "
                        f"'{app}' and 'contenttypes' must share an alias.",
                        hint=f"Put them together: {_share([app, 'contenttypes'])}.",
                        obj=field,
                        id="djcfg_env.W002",
                    )
                )
            if constraints_skipped or not model._meta.managed or not field.db_constraint:
                continue
            text = (
                f"{name} is a {type(field).__name__} to {target._meta.label} across databases "
                f"({_placed(where, (model, target))}) with a database constraint, and "
                f"DJCFG_ENV['CROSS_DATABASE_FOREIGN_KEYS'] is off: migrating it fails, because a "
                f"database cannot enforce a foreign key to a table in another database."
            )
            if owned:
                messages.append(
                    checks.Error(
                        text,
                        hint=(
                            f"Turn CROSS_DATABASE_FOREIGN_KEYS back on (remove it from DJCFG_ENV), "
                            f"or add db_constraint=False to {name} and make a migration, or "
                            f"{_share([app, target._meta.app_label])}."
                        ),
                        obj=field,
                        id="djcfg_env.E001",
                    )
                )
            else:
                messages.append(
                    checks.Warning(
                        text,
                        hint=(
                            f"The field is not in your code: turn CROSS_DATABASE_FOREIGN_KEYS back "
                            f"on (remove it from DJCFG_ENV), or {_share([app, target._meta.app_label])}."
                        ),
                        obj=field,
                        id="djcfg_env.W005",
                    )
                )
        for field in model._meta.local_many_to_many:
            target = field.related_model  # type: ignore[assignment]
            through: type[Model] = field.remote_field.through  # type: ignore[union-attr]
            if not isinstance(target, type) or not isinstance(through, type):
                continue
            # The ends the through table really joins: itself, and what its foreign keys
            # point at (a generic link, as django-taggit's, joins no table of the tagged model).
            ends: list[type[Model]] = [through] + [
                end
                for end in (model, target)
                if any(
                    f.related_model is end
                    for f in through._meta.local_fields
                    if f.many_to_one and f.remote_field is not None
                )
            ]
            if len({where.model_alias(end) for end in ends}) == 1:
                continue
            labels = [end._meta.app_label for end in ends]
            text = (
                f"{model._meta.label}.{field.name} is a many-to-many relation across databases: "
                f"{_placed(where, ends)}. Its queries join the through table to the tables it "
                f"points at, which one database cannot do across two."
            )
            if owned:
                messages.append(
                    checks.Error(
                        text,
                        hint=(
                            f"{_share(labels, first=True)}, or replace the field with a model "
                            f"holding two ForeignKeys and query it by ids."
                        ),
                        obj=field,
                        id="djcfg_env.E002",
                    )
                )
            else:
                messages.append(
                    checks.Warning(
                        text,
                        hint=f"The field is not in your code: {_share(labels)}.",
                        obj=field,
                        id="djcfg_env.W006",
                    )
                )
        for parent, link in model._meta.parents.items():
            if link is None or where.model_alias(parent) == here:
                continue
            messages.append(
                checks.Error(
                    f"{model._meta.label} inherits from {parent._meta.label} (multi-table "
                    f"inheritance), but they are on different aliases: "
                    f"{_placed(where, (model, parent))}. Each row of {model._meta.label} is a row "
                    f"in both tables, read with a join and saved in one transaction, which cannot "
                    f"span two databases.",
                    hint=f"{_share([model._meta.app_label, parent._meta.app_label], first=True)}.",
                    obj=model,
                    id="djcfg_env.E007",
                )
            )
    return messages


def _auth_contenttypes_split(where: Placement) -> bool:
    if not (apps.is_installed("django.contrib.auth") and apps.is_installed("django.contrib.contenttypes")):
        return False
    return where.app_alias("auth") != where.app_alias("contenttypes")


@checks.register(TAG)
def check_contrib_apps(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W001: ``auth`` and ``contenttypes`` must share an alias."""
    where = placement()
    if not _auth_contenttypes_split(where):
        return []
    auth, contenttypes = where.app_alias("auth"), where.app_alias("contenttypes")
    return [
        checks.Warning(
            f"The app 'auth' is on {_where(where, 'auth')} and the app 'contenttypes' on "
            f"{_where(where, 'contenttypes')}: auth.Permission has "
            f"a ForeignKey to ContentType, so migrating auth fails on PostgreSQL and creating "
            f"permissions after migrate reads content types from the wrong database.",
            hint=(
                f"Route both to one alias: set {route_variable('auth')} and "
                f"{route_variable('contenttypes')} to the same alias (or remove both to keep "
                f"them on default); now '{auth}' and '{contenttypes}'."
            ),
            obj="auth",
            id="djcfg_env.W001",
        )
    ]


@checks.register(checks.Tags.models, TAG)
def check_read_only_apps(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W003: an app routed to a read-only alias should have no managed models."""
    where = placement()
    read_only = where.read_only
    if not read_only:
        return []
    messages: list[checks.CheckMessage] = []
    for config in _configs(app_configs):
        alias = where.app_alias(config.label)
        if alias not in read_only or where.is_replica(alias):
            # A replica has its primary's tables (by replication): W007 covers the route.
            continue
        managed = sorted(
            model._meta.label
            for model in config.get_models()
            if model._meta.managed and not model._meta.proxy
        )
        if not managed:
            continue
        shown = ", ".join(managed[:3]) + (f" and {len(managed) - 3} more" if len(managed) > 3 else "")
        messages.append(
            checks.Warning(
                f"The app '{config.label}' is routed to the read-only alias '{alias}' "
                f"({route_variable(config.label) if config.label.lower() in where.rules else 'not routed'}) "
                f"but has managed models ({shown}): migrations never run on a read-only "
                f"alias, so Django will never create or change their tables.",
                hint=(
                    "Set managed = False in the Meta of those models if their tables are "
                    "created elsewhere, or route the app to a writable alias (or remove "
                    "read_only=true from its URL)."
                ),
                obj=config.label,
                id="djcfg_env.W003",
            )
        )
    return messages


@checks.register(TAG)
def check_replica_routes(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W007: a ``DB_ROUTE_*`` that sends an installed app directly to a read replica."""
    where = placement()
    if not where.replicas:
        return []
    installed = {config.label.lower() for config in apps.get_app_configs()}
    messages: list[checks.CheckMessage] = []
    for label, alias in sorted(where.rules.items()):
        if label not in installed or not where.is_replica(alias):
            continue  # an app that is not installed: E003
        primary = where.primary_of[alias]
        variable = route_variable(label)
        messages.append(
            checks.Warning(
                f"{variable} routes the app '{label}' directly to '{alias}', a read replica of "
                f"'{primary}': every query of the app goes to that replica (never to "
                f"'{primary}', whatever the replica's lag), and its writes are refused.",
                hint=(
                    f"Route the app to the primary instead ({_route_to(label, primary)}): its "
                    f"writes then go to '{primary}' and its reads to the replicas. If the app only "
                    f"reads (a read-only reporting app), keep the route and silence this warning "
                    f'with SILENCED_SYSTEM_CHECKS = ["djcfg_env.W007"].'
                ),
                obj=variable,
                id="djcfg_env.W007",
            )
        )
    return messages


@checks.register(TAG)
def check_switches(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E004: ``DJCFG_ENV`` holds only known switches, each True or False; W004: unsupported Django."""
    messages: list[checks.CheckMessage] = [
        checks.Error(message, hint=hint, obj=switches.SETTING, id="djcfg_env.E004")
        for message, hint in switches.problems(getattr(settings, switches.SETTING, None))
    ]
    for feature in switches.unsupported():
        first, past = feature.versions
        messages.append(
            checks.Warning(
                f"{switches.SETTING}[{feature.key!r}] is on, but djcfg-env supports it on Django "
                f"{first[0]}.{first[1]} up to (not including) {past[0]}.{past[1]} only, so it is "
                f"not installed on this Django ({django.get_version()}).",
                hint=f"Use a supported Django version, or set {switches.SETTING}[{feature.key!r}] = "
                "False to silence this warning.",
                obj=switches.SETTING,
                id="djcfg_env.W004",
            )
        )
    return messages


@checks.register(TAG)
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E005, E006: DATABASES and DATABASE_ROUTERS still match what the environment gave."""
    messages: list[checks.CheckMessage] = []
    rules = dict(getattr(settings, "DATABASE_ROUTING_RULES", None) or {})
    read_only = set(getattr(settings, "READ_ONLY_DATABASES", None) or ())
    defined = set(settings.DATABASES)
    missing = sorted(({alias for alias in rules.values()} | read_only) - defined)
    if missing:
        messages.append(
            checks.Error(
                f"DATABASES has no alias {', '.join(repr(alias) for alias in missing)}, but the "
                f"environment routes apps there or marks it read-only: DATABASES was changed "
                f"after 'from djcfg_env.settings import *', so those apps' queries fail.",
                hint=(
                    "Do not assign DATABASES again below the import: add aliases with "
                    "DATABASE_URL_<NAME> variables instead (or change DATABASES only in place, "
                    "keeping every alias)."
                ),
                obj="DATABASES",
                id="djcfg_env.E005",
            )
        )
    if (rules or read_only) and not placement().routed:
        messages.append(
            checks.Error(
                f"DATABASE_ROUTERS has no djcfg_env.router.AppDatabaseRouter, but the environment "
                f"routes apps ({', '.join(sorted(rules)) or 'none'}) or marks aliases read-only "
                f"({', '.join(sorted(read_only)) or 'none'}): every app's rows go to 'default', "
                f"and nothing crosses databases safely.",
                hint=(
                    "Do not assign DATABASE_ROUTERS again below 'from djcfg_env.settings import *'; "
                    "to add a router of your own, write DATABASE_ROUTERS = [..., "
                    "*DATABASE_ROUTERS] and make sure it returns None for models it does not route."
                ),
                obj="DATABASE_ROUTERS",
                id="djcfg_env.E006",
            )
        )
    return messages
