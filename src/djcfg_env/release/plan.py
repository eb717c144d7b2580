"""Which aliases ``migrate_all`` visits, in which order, and which migrations each needs.

Like ``manage.py migrate --database <alias>``, every alias records every migration
of every app (or of the ``--app`` ones) in its ``django_migrations``, while the
operations run only where Django's public routing (``django.db.router.allow_migrate``)
lets them: the tables are created only on the app's own alias, and
``migrate --check``, ``showmigrations`` and ``runserver`` agree on every alias.
Which apps have tables where comes from the same routing, never from a
router's internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder

__all__ = [
    "UsageError",
    "order_aliases",
    "select_aliases",
    "select_apps",
    "migratable_apps",
    "AliasPlan",
    "plan_for",
    "disk_loader",
    "is_up_to_date",
    "post_migrate_missing",
    "ROUTED_OPERATIONS",
    "only_routed_operations",
]

#: Django's schema operations whose ``database_forwards`` does nothing unless the router lets
#: their model migrate on the alias (``self.allow_migrate_model(...)``; the options and managers
#: operations do nothing on any database). A migration made only of these, of an app that does
#: not live on an alias, changes nothing there: ``migrate_all`` records it without rendering
#: models or opening a schema editor for it. Any other operation (``RunPython``, ``RunSQL``,
#: ``SeparateDatabaseAndState``, a subclass, a third-party operation) runs as ``migrate`` runs it.
#: tests/test_release_bookkeeping.py reads each one's source, so that a Django release that
#: changes one fails a test.
ROUTED_OPERATIONS: frozenset[type] = frozenset(
    getattr(operations, name)
    for name in (
        "CreateModel", "DeleteModel", "RenameModel", "AlterModelTable", "AlterModelTableComment",
        "AlterUniqueTogether", "AlterIndexTogether", "AlterOrderWithRespectTo", "AlterModelOptions",
        "AlterModelManagers", "AddIndex", "RemoveIndex", "RenameIndex", "AddConstraint",
        "RemoveConstraint", "AlterConstraint", "AddField", "RemoveField", "AlterField", "RenameField",
    )
    if hasattr(operations, name)  # AlterModelTableComment: 4.2; AlterConstraint: 5.2
)


def only_routed_operations(migration: Migration) -> bool:
    """Whether every operation of ``migration`` is one of :data:`ROUTED_OPERATIONS` (exactly)."""
    return all(type(operation) in ROUTED_OPERATIONS for operation in migration.operations)


class UsageError(ValueError):
    """A flag names something that does not exist (exit code 2)."""


def order_aliases(aliases: Iterable[str]) -> list[str]:
    """``default`` first, then every other alias sorted by name; duplicates dropped."""
    unique = set(aliases)
    return (["default"] if "default" in unique else []) + sorted(unique - {"default"})


def select_aliases(requested: Sequence[str] | None) -> list[str]:
    """The aliases to visit: all of them, or those given with ``--database``, in run order."""
    defined = list(settings.DATABASES)
    if not requested:
        return order_aliases(defined)
    unknown = [alias for alias in dict.fromkeys(requested) if alias not in settings.DATABASES]
    if unknown:
        names = ", ".join(repr(alias) for alias in unknown)
        raise UsageError(
            f"--database {names}: no such alias; defined aliases: "
            f"{', '.join(order_aliases(defined))}. An alias comes from DATABASE_URL "
            "(default) or DATABASE_URL_<NAME> (<name>, lower-cased)."
        )
    return order_aliases(requested)


def disk_loader() -> MigrationLoader:
    """The migrations on disk and their graph, read once for every alias (no database)."""
    return MigrationLoader(None)


def select_apps(
    requested: Sequence[str] | None, loader: MigrationLoader | None = None
) -> frozenset[str] | None:
    """The app labels given with ``--app`` (each installed and with migrations), or None for all."""
    if not requested:
        return None
    loader = loader or disk_loader()
    labels = list(dict.fromkeys(requested))
    installed = {config.label for config in apps.get_app_configs()}
    unknown = [label for label in labels if label not in installed]
    if unknown:
        raise UsageError(
            f"--app {', '.join(repr(label) for label in unknown)}: no installed app has "
            f"this label; installed apps with migrations: "
            f"{', '.join(sorted(loader.migrated_apps)) or 'none'}."
        )
    without = [label for label in labels if label not in loader.migrated_apps]
    if without:
        raise UsageError(
            f"--app {', '.join(repr(label) for label in without)}: this app has no "
            "migrations, so there is nothing to migrate; installed apps with migrations: "
            f"{', '.join(sorted(loader.migrated_apps)) or 'none'}."
        )
    return frozenset(labels)


def migratable_apps(alias: str, loader: MigrationLoader, selected: frozenset[str] | None) -> list[str]:
    """The apps with migrations that the router lets migrate on ``alias`` (within ``selected``)."""
    return sorted(
        label
        for label in loader.migrated_apps
        if (selected is None or label in selected) and router.allow_migrate(alias, label)
    )


@dataclass
class AliasPlan:
    """The forward migrations one alias needs, in the order they would run."""

    alias: str
    #: Apps whose models live here (their operations run on this alias).
    apps: list[str]
    #: The graph's leaf nodes of every selected app (all apps without --app): what
    #: "up to date" means here, as for ``migrate --database``.
    targets: list[tuple[str, str]]
    #: (migration, backwards=False) pairs, as MigrationExecutor.migrate takes them.
    steps: list[tuple[Migration, bool]]

    @property
    def names(self) -> list[str]:
        return [f"{migration.app_label}.{migration.name}" for migration, _ in self.steps]

    @property
    def applied_names(self) -> list[str]:
        """The steps of the apps that live here (their operations run here)."""
        return [f"{m.app_label}.{m.name}" for m, _ in self.steps if not self.recorded_only(m)]

    @property
    def recorded_names(self) -> list[str]:
        """The steps of apps that live elsewhere: only recorded here, as migrate does."""
        return [f"{m.app_label}.{m.name}" for m, _ in self.steps if self.recorded_only(m)]

    def recorded_only(self, migration: Migration) -> bool:
        """True for a dependency from an app that does not live here.

        Django records it on this alias (its operations are skipped by the
        router) so that the migration history stays consistent.
        """
        return migration.app_label not in self.apps


def _targets(loader: MigrationLoader, selected: frozenset[str] | None) -> list[tuple[str, str]]:
    """The leaf nodes of the selected apps (every app with migrations when None)."""
    return [key for key in loader.graph.leaf_nodes() if selected is None or key[0] in selected]


def plan_for(executor: MigrationExecutor, alias: str, selected: frozenset[str] | None) -> AliasPlan:
    """What must run on ``alias``: every selected migration, applied or recorded as ``migrate`` does.

    Reads the applied migrations the executor's loader found; call
    ``executor.loader.build_graph()`` first to see another copy's work.
    """
    loader = executor.loader
    labels = migratable_apps(alias, loader, selected)
    targets = _targets(loader, selected)
    steps = executor.migration_plan(targets) if targets else []
    return AliasPlan(alias=alias, apps=labels, targets=targets, steps=list(steps))


def is_up_to_date(
    connection: BaseDatabaseWrapper, disk: MigrationLoader, selected: frozenset[str] | None
) -> bool:
    """True when every migration the alias needs is recorded: the no-op fast path.

    Uses the graph read once from disk (:func:`disk_loader`) and one read of
    ``django_migrations``, instead of a full MigrationLoader per alias. A
    squashed migration counts as applied when it, or every migration it
    replaces, is recorded. When this says False, the caller builds the exact
    plan with a MigrationExecutor; it never says True wrongly.
    """
    recorder = MigrationRecorder(connection)
    applied = set(recorder.applied_migrations())
    graph = disk.graph
    seen: set[tuple[str, str]] = set()
    for target in _targets(disk, selected):
        for key in graph.forwards_plan(target):
            if key in seen:
                continue
            seen.add(key)
            if key in applied:
                continue
            replaces = getattr(graph.nodes[key], "replaces", None) or ()
            if replaces and all(tuple(old) in applied for old in replaces):
                continue
            return False
    return True


def post_migrate_missing(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``post_migrate``'s work is incomplete on this alias: a content type or a permission is missing.

    Only on the alias where ``contenttypes`` (and ``auth``) live, for every
    installed model, as ``create_contenttypes`` and ``create_permissions`` make
    them. Two reads. A run killed during ``post_migrate`` leaves them
    incomplete while every migration is recorded; the next run sees it here
    and sends ``post_migrate`` again, as ``migrate`` always does.
    """
    if not apps.is_installed("django.contrib.contenttypes"):
        return False
    from django.contrib.contenttypes.models import ContentType

    alias = connection.alias
    if not router.allow_migrate_model(alias, ContentType):
        return False
    tables = set(connection.introspection.table_names())
    if ContentType._meta.db_table not in tables:
        return False  # contenttypes is not migrated yet (e.g. migrate_all --app of another app)
    models = apps.get_models()
    expected = {(model._meta.app_label, model._meta.model_name) for model in models}
    have = set(ContentType.objects.using(alias).values_list("app_label", "model"))
    if expected - have:
        return True
    if not apps.is_installed("django.contrib.auth"):
        return False
    from django.contrib.auth.models import Permission

    if not router.allow_migrate_model(alias, Permission) or Permission._meta.db_table not in tables:
        return False
    wanted = {
        (model._meta.app_label, model._meta.model_name, codename)
        for model in models
        for codename in [f"{action}_{model._meta.model_name}" for action in model._meta.default_permissions]
        + [codename for codename, _name in model._meta.permissions]
    }
    granted = set(
        Permission.objects.using(alias).values_list("content_type__app_label", "content_type__model", "codename")
    )
    return bool(wanted - granted)
