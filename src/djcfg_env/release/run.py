"""The orchestration of ``migrate_all``: every writable alias migrated in one process, safely.

``default`` first, then every other writable alias by name, each with exactly
the apps the router lets migrate there; read-only aliases are skipped, and so are
replicas (reported as "replica of <primary>"; ``--wait`` waits for them only with
``--wait-replicas``). Each
alias whose plan is not empty is migrated while holding a lock in that database
(:mod:`djcfg_env.release.locks`), and its plan is read again once the lock is
held, so N copies started together apply each migration exactly once. It never
creates migrations. Exit codes: :data:`djcfg_env.release.report.EXIT_CODES_HELP`.

:class:`Release` writes its progress to a Django ``OutputWrapper`` and returns
the exit code; the management command only parses the flags.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.color import Style
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import Error as DatabaseError
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.migrations.state import ModelState
from django.utils.module_loading import module_has_submodule

from ..orm.placement import app_alias, placement
from ..router import AppDatabaseRouter
from .locks import (
    APPLICATION_NAME,
    DEFAULT_CONNECT_TIMEOUT,
    SERVER_GRACE,
    LockTimeout,
    ServerNotAnswering,
    Watchdog,
    connect_bounded,
    connection_options,
    lock_for,
    try_connect,
)
from .plan import (
    AliasPlan,
    UsageError,
    disk_loader,
    is_up_to_date,
    migratable_apps,
    only_routed_operations,
    plan_for,
    post_migrate_missing,
    select_aliases,
    select_apps,
)
from .report import (
    EXIT_OK,
    AliasResult,
    Outcome,
    Scrubber,
    count_phrase,
    describe_database,
    exit_code,
    summary_lines,
)

__all__ = ["Release", "ConflictingMigrations", "DEFAULT_LOCK_TIMEOUT"]

#: Default for --lock-timeout, in seconds.
DEFAULT_LOCK_TIMEOUT = 300.0
#: Back-off between connection attempts with --wait: first and longest delay.
WAIT_FIRST_DELAY = 0.5
WAIT_MAX_DELAY = 5.0
#: A statement of another copy of migrate_all (its application_name) still running
#: this long when the lock is obtained belongs to a copy that is gone.
DEAD_STATEMENT_AGE = 1.0



#: Django 6.0 records by app label and name (``record_migration(app_label, name, forward=True)``);
#: 4.2 to 5.2 take the migration. tests/test_release_bookkeeping.py fails on any other shape.
RECORD_BY_NAME = list(inspect.signature(MigrationExecutor.record_migration).parameters)[1:3] == ["app_label", "name"]


def record_migration(executor: MigrationExecutor, migration: Migration) -> None:
    """Record ``migration`` as applied, as ``MigrationExecutor.apply_migration`` records it."""
    if RECORD_BY_NAME:
        executor.record_migration(migration.app_label, migration.name)  # type: ignore[call-arg]
    else:
        executor.record_migration(migration)


class ConflictingMigrations(Exception):
    """The migration graph has several leaf nodes in an app (as ``migrate`` refuses)."""


class _Unreachable(Exception):
    """The alias's database refused or did not answer the connection (exit 3)."""


class Release:
    """One ``migrate_all`` run: options in, progress lines out, an exit code back."""

    def __init__(self, *, stdout: Any, style: Style, verbosity: int = 1, interactive: bool = True) -> None:
        self.stdout = stdout
        self.style = style
        self.verbosity = verbosity
        self.interactive = interactive

    # -- output -------------------------------------------------------------
    def _line(self, text: str, *, level: int = 1, style: Callable[[str], str] | None = None) -> None:
        if self.verbosity >= level:
            self.stdout.write(style(text) if style else text)
            self.stdout.flush()

    def _problem(self, text: str) -> None:
        # Problems show even with --verbosity 0.
        self.stdout.write(self.style.ERROR(text))
        self.stdout.flush()

    # -- the command ----------------------------------------------------------
    def run(self, **options: Any) -> int:
        """Run with the command's options; returns the exit code (UsageError: exit 2)."""
        with _session_options():
            return self._run(**options)

    def _run(self, **options: Any) -> int:
        started = time.monotonic()
        if options.get("wait_replicas") and options.get("wait") is None:
            raise UsageError(
                "--wait-replicas needs --wait SECONDS: give --wait SECONDS --wait-replicas to "
                "wait for the replicas as well as the primaries."
            )
        # A migration's error may quote anything, SECRET_KEY included.
        self.scrub = Scrubber(settings.DATABASES, [getattr(settings, "SECRET_KEY", None)])
        selected = select_aliases(options["databases"])
        # The migration files and their graph, read once for every alias.
        self.disk = disk_loader()
        app_labels = select_apps(options["apps"], self.disk)
        mode = "plan" if options["plan"] else "check" if options["check"] else "migrate"

        # Import each app's management module, as migrate does, so that every
        # pre_/post_migrate handler is connected.
        for app_config in apps.get_app_configs():
            if module_has_submodule(app_config.module, "management"):
                import_module(".management", app_config.name)

        where = placement()
        read_only = where.read_only
        # Replicas are never migrated: they get their primary's tables by replication.
        replicas = [alias for alias in selected if where.is_replica(alias)]
        writable = [alias for alias in selected if alias not in read_only and alias not in replicas]
        skipped = [alias for alias in selected if alias in read_only and alias not in replicas]
        self._line(
            f"migrate_all: {mode if mode != 'migrate' else 'migrating'} "
            f"{len(writable)} alias{'es' if len(writable) != 1 else ''}"
            f" ({', '.join(writable) or 'none'})"
            + (f"; skipping read-only: {', '.join(skipped)}" if skipped else "")
            + (
                "; skipping replicas: "
                + ", ".join(f"{alias} (replica of {where.primary_of[alias]})" for alias in replicas)
                if replicas
                else ""
            )
            + (f"; apps: {', '.join(sorted(app_labels))}" if app_labels else "")
        )

        for label, note in self._unplaced_apps(app_labels, writable, read_only):
            self._line(f"--app {label}: {note}")

        results: dict[str, AliasResult] = {}
        for alias in selected:
            if alias in replicas:
                primary = where.primary_of[alias]
                results[alias] = AliasResult(alias, Outcome.REPLICA, replica_of=primary)
                self._line(f"[{alias}] skipped: replica of {primary} ({self._where(alias)})")
            elif alias in read_only:
                results[alias] = AliasResult(alias, Outcome.READ_ONLY)
                self._line(f"[{alias}] skipped: read-only ({self._where(alias)})")

        # --wait: the aliases to migrate; the replicas too with --wait-replicas.
        awaited = writable + (replicas if options.get("wait_replicas") else [])
        if options["wait"] is not None and awaited:
            unreachable = self._wait_for(awaited, options["wait"])
            if unreachable is not None:
                missing, why = unreachable
                for other in writable:
                    results[other] = AliasResult(other, Outcome.NOT_ATTEMPTED)
                results[missing] = AliasResult(missing, Outcome.UNREACHABLE, error=why)
                return self._finish(selected, results, started, mode, stopped_early=False)
            for alias in awaited:
                if alias in replicas:  # only waited for: nothing more happens there
                    with contextlib.suppress(DatabaseError):
                        connections[alias].close()

        # The usual release is a no-op: find the aliases already up to date
        # with one connection each, opened in parallel, before the ordered run.
        self.known_up_to_date: frozenset[str] = (
            self._probe_up_to_date(writable, app_labels, mode) if mode != "plan" else frozenset()
        )
        stopped = False
        for alias in writable:
            if stopped:
                results[alias] = AliasResult(alias, Outcome.NOT_ATTEMPTED)
                continue
            result = self._run_alias(alias, app_labels, mode, options["lock_timeout"])
            results[alias] = result
            if result.outcome.is_problem and not options["keep_going"]:
                stopped = True
        return self._finish(selected, results, started, mode)

    def _finish(
        self,
        selected: list[str],
        results: dict[str, AliasResult],
        started: float,
        mode: str,
        *,
        stopped_early: bool = True,
    ) -> int:
        ordered = [results[alias] for alias in selected if alias in results]
        code = exit_code(ordered)
        lines = summary_lines(
            ordered, time.monotonic() - started, mode, stopped_early=stopped_early
        )
        for line in lines:
            if code == EXIT_OK:
                self._line(line, style=self.style.SUCCESS)
            else:
                self._problem(line)
        return code

    def _unplaced_apps(
        self, app_labels: frozenset[str] | None, writable: list[str], read_only: frozenset[str]
    ) -> list[tuple[str, str]]:
        """(label, why) for each ``--app`` that no alias of this run will migrate.

        Without this, ``--app analytics`` for an app on a read-only alias ends
        with "no selected app migrates here" on every other alias, and the
        reader has to work out why nothing ran.
        """
        if not app_labels:
            return []
        notes = []
        for label in sorted(app_labels):
            if any(router.allow_migrate(alias, label) for alias in writable):
                continue
            home = app_alias(label)
            primary = placement().primary_of.get(home, home)
            if primary != home:
                why = (
                    f"nothing to migrate: the app is routed to '{home}', a replica of "
                    f"'{primary}', and migrate_all never migrates a replica (it gets its "
                    "primary's tables by replication)"
                )
            elif home in read_only:
                why = (
                    f"nothing to migrate: the app is routed to the read-only alias '{home}', "
                    "and migrate_all never migrates a read-only alias"
                )
            else:
                why = (
                    f"nothing to migrate: the app is routed to '{home}', which this run does "
                    "not include (see --database)"
                )
            notes.append((label, why))
        return notes

    # -- one alias ----------------------------------------------------------------
    def _where(self, alias: str) -> str:
        connection = connections[alias]
        return describe_database(connection.vendor, connection.settings_dict)

    def _error_text(self, error: BaseException) -> str:
        text = " ".join(str(error).split()) or "(no message)"
        return self.scrub(f"{type(error).__name__}: {text}")

    def _run_alias(
        self, alias: str, selected_apps: frozenset[str] | None, mode: str, lock_timeout: float
    ) -> AliasResult:
        started = time.monotonic()
        connection = connections[alias]
        self._line(f"[{alias}] start: {self._where(alias)}")
        if alias in self.known_up_to_date:
            routed = migratable_apps(alias, self.disk, selected_apps)
            result = AliasResult(alias, Outcome.UP_TO_DATE if routed else Outcome.NOTHING_ROUTED)
            result.seconds = time.monotonic() - started
            self._report_end(result)
            return result
        try:
            if alias in getattr(self, "probe_unreachable", {}):
                raise _Unreachable(self.probe_unreachable[alias])
            try:
                connect_bounded(connection)
            except DatabaseError as error:
                raise _Unreachable(self._error_text(error)) from None
            result = self._migrate_alias(connection, selected_apps, mode, lock_timeout)
        except _Unreachable as error:
            result = AliasResult(alias, Outcome.UNREACHABLE, error=str(error))
        except ServerNotAnswering as error:
            result = AliasResult(alias, Outcome.UNREACHABLE, error=f"{type(error).__name__}: {error}")
        except LockTimeout as error:
            result = AliasResult(alias, Outcome.LOCK_TIMEOUT, error=str(error))
        except _FailedWithResult as error:
            result = error.result
        except Exception as error:  # noqa: BLE001 - reported, scrubbed, never a traceback with a secret
            result = AliasResult(alias, Outcome.FAILED, error=self._error_text(error))
        finally:
            try:
                connection.close()
            except DatabaseError:
                pass
        result.seconds = time.monotonic() - started
        self._report_end(result)
        return result

    def _report_end(self, result: AliasResult) -> None:
        alias, took = result.alias, f"{result.seconds:.2f}s"
        outcome = result.outcome
        if outcome is Outcome.MIGRATED:
            self._line(f"[{alias}] done: applied {count_phrase(len(result.applied))} in {took}{_records(result)}")
        elif outcome is Outcome.UP_TO_DATE:
            self._line(f"[{alias}] done: up to date ({took})")
        elif outcome is Outcome.NOTHING_ROUTED:
            self._line(f"[{alias}] done: no selected app migrates here ({took})")
        elif outcome is Outcome.PLANNED:
            records = f", {len(result.pending_records)} to record" if result.pending_records else ""
            self._line(f"[{alias}] plan: {count_phrase(len(result.pending))} to apply{records} ({took})")
        elif outcome is Outcome.PENDING:
            records = f", {len(result.pending_records)} not recorded" if result.pending_records else ""
            self._line(
                f"[{alias}] check: {count_phrase(len(result.pending))} not applied{records} ({took})"
            )
        else:
            where = f" in {result.migration}" if result.migration else ""
            applied = (
                f" (applied {count_phrase(len(result.applied))} before that)"
                if result.applied
                else ""
            )
            self._problem(f"[{alias}] {outcome.label} after {took}{where}: {result.error}{applied}")

    def _migrate_alias(
        self,
        connection: BaseDatabaseWrapper,
        selected_apps: frozenset[str] | None,
        mode: str,
        lock_timeout: float,
    ) -> AliasResult:
        alias = connection.alias
        if mode != "plan" and is_up_to_date(connection, self.disk, selected_apps):
            # The common no-op release: one query, no loader, no lock, no signals...
            return self._up_to_date(connection, selected_apps, mode, lock_timeout)
        progress = _Progress(self, alias)
        executor = MigrationExecutor(connection, progress)
        self._check_graph(executor)
        plan = plan_for(executor, alias, selected_apps)
        if not plan.targets:
            return AliasResult(alias, Outcome.NOTHING_ROUTED)
        if mode == "plan":
            self._print_plan(plan)
            return AliasResult(
                alias, Outcome.PLANNED if plan.steps else Outcome.UP_TO_DATE,
                pending=plan.applied_names, pending_records=plan.recorded_names,
            )
        if mode == "check":
            for name in plan.applied_names:
                self._line(f"  not applied: {name}")
            for name in plan.recorded_names:
                self._line(f"  not recorded: {name}  (its app lives on another alias)", level=2)
            return AliasResult(
                alias, Outcome.PENDING if plan.steps else Outcome.UP_TO_DATE,
                pending=plan.applied_names, pending_records=plan.recorded_names,
            )
        if not plan.steps:
            # Nothing to do. A copy migrating right now commits each migration
            # with its record, so an empty plan is final.
            return self._up_to_date(connection, selected_apps, mode, lock_timeout)

        with self._locked(connection, lock_timeout):
            # Read the history again under the lock: another copy may have
            # applied some or all of the plan since we first looked.
            executor.loader.build_graph()
            self._check_graph(executor)
            plan = plan_for(executor, alias, selected_apps)
            if plan.steps:
                self._line(f"[{alias}] applying {count_phrase(len(plan.steps))}", level=2)
                progress.routed = frozenset(plan.apps)
                try:
                    self._apply(executor, plan)
                except Exception as error:  # noqa: BLE001 - reported with the migration's name
                    outcome, text = Outcome.FAILED, self._error_text(error)
                    if _is_lock_wait_timeout(error):
                        outcome = Outcome.LOCK_TIMEOUT
                        text = (
                            f"waited longer than --lock-timeout ({_table_lock_seconds(lock_timeout):g}s) "
                            f"for a table lock another session holds: {text}"
                        )
                    raise _FailedWithResult(
                        AliasResult(
                            alias, outcome, error=text,
                            migration=progress.current, applied=progress.applied,
                            recorded=progress.recorded,
                        )
                    ) from None
        if not (progress.applied or progress.recorded):
            # Another copy applied the plan while we waited for the lock.
            return self._up_to_date(connection, selected_apps, mode, lock_timeout)
        return AliasResult(alias, Outcome.MIGRATED, applied=progress.applied, recorded=progress.recorded)

    def _up_to_date(
        self,
        connection: BaseDatabaseWrapper,
        selected_apps: frozenset[str] | None,
        mode: str,
        lock_timeout: float,
    ) -> AliasResult:
        """Every migration is recorded here; ...unless post_migrate's work was left undone."""
        alias = connection.alias
        routed = migratable_apps(alias, self.disk, selected_apps)
        result = AliasResult(alias, Outcome.UP_TO_DATE if routed else Outcome.NOTHING_ROUTED)
        if mode == "migrate" and post_migrate_missing(connection):
            self._complete_post_migrate(connection, lock_timeout)
        return result

    def _complete_post_migrate(self, connection: BaseDatabaseWrapper, lock_timeout: float) -> None:
        """Send post_migrate again (content types, permissions), under the alias's lock."""
        alias = connection.alias
        with self._locked(connection, lock_timeout):
            if not post_migrate_missing(connection):
                return  # another copy finished it meanwhile
            self._line(
                f"[{alias}] every migration is recorded, but content types or permissions are "
                "missing (a run stopped during post_migrate?): sending post_migrate again"
            )
            executor = MigrationExecutor(connection)
            state = executor._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
            emit_post_migrate_signal(
                self.verbosity, self.interactive, alias,
                stdout=self.stdout, apps=self._rendered(state).apps, plan=[],
            )

    @contextlib.contextmanager
    def _locked(self, connection: BaseDatabaseWrapper, lock_timeout: float) -> Iterator[None]:
        """Hold the alias's migration lock (one copy at a time), saying so while waiting for it."""
        alias = connection.alias
        try:
            lock = lock_for(connection)
        except DatabaseError as error:
            raise _Unreachable(self._error_text(error)) from None
        except ServerNotAnswering as error:
            raise _Unreachable(f"{type(error).__name__}: {error}") from None
        try:
            lock.acquire(
                lock_timeout,
                on_wait=lambda: self._line(
                    f"[{alias}] waiting for the {lock.description}: another copy is "
                    f"migrating this database (up to {lock_timeout:g}s)"
                ),
            )
            with Watchdog(connection, SERVER_GRACE, "the migration session's set-up"):
                self._end_dead_copies(connection)
                _bound_lock_waits(connection, lock_timeout)
            yield
        finally:
            lock.release()

    def _end_dead_copies(self, connection: BaseDatabaseWrapper) -> None:
        """End the statements a killed copy of migrate_all left running (PostgreSQL).

        A copy killed mid-statement (SIGKILL, OOM) loses its lock session at
        once, but the server runs its statement on until it next writes to the
        client, holding its table locks. Now that this copy holds the lock, no
        live copy is migrating: a migrate_all session (``application_name``)
        of this database still running a statement, older than
        :data:`DEAD_STATEMENT_AGE` and not itself waiting for a lock (a live
        copy's quick read may be queued behind the dead one), is a dead copy's,
        and is ended with ``pg_terminate_backend``. Says what it ended.
        """
        if connection.vendor != "postgresql":
            return
        alias = connection.alias
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, round(extract(epoch FROM clock_timestamp() - query_start)), "
                    "pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = %s AND state = 'active' "
                    "AND wait_event_type IS DISTINCT FROM 'Lock' "
                    "AND query_start < clock_timestamp() - make_interval(secs => %s)",
                    [APPLICATION_NAME, DEAD_STATEMENT_AGE],
                )
                ended = cursor.fetchall()
        except DatabaseError as error:
            self._problem(
                f"[{alias}] could not end the statements a killed copy of migrate_all left "
                f"running ({self._error_text(error)}); waiting for them up to --lock-timeout"
            )
            return
        for pid, seconds, signalled in ended:
            if signalled:
                self._line(
                    f"[{alias}] ended PostgreSQL backend {pid}: a copy of migrate_all that is gone "
                    f"left its statement running ({int(seconds or 0)}s), holding its table locks"
                )
            else:
                self._problem(
                    f"[{alias}] PostgreSQL backend {pid}, a statement a copy of migrate_all that is "
                    "gone left running, could not be ended; waiting for it up to --lock-timeout"
                )

    def _check_graph(self, executor: MigrationExecutor) -> None:
        """Refuse an inconsistent history or conflicting leaf nodes, as migrate does."""
        executor.loader.check_consistent_history(executor.connection)
        conflicts = executor.loader.detect_conflicts()
        if conflicts:
            names = "; ".join(
                f"{', '.join(sorted(migrations))} in {app}" for app, migrations in sorted(conflicts.items())
            )
            raise ConflictingMigrations(
                f"conflicting migrations (several leaf nodes): {names}; run "
                "'manage.py makemigrations --merge' in development and commit the result."
            )

    def _print_plan(self, plan: AliasPlan) -> None:
        if not plan.steps:
            self._line(f"[{plan.alias}]   up to date: no migrations to apply")
            return
        for name in plan.applied_names:
            self._line(f"  {name}")
        # Recorded only (their apps live on other aliases), as migrate --database records them:
        # one line at -v 1, each of them at -v 2.
        records = plan.recorded_names
        if records:
            self._line(f"  + {count_phrase(len(records))} of apps on other aliases, to be recorded only")
            for name in records:
                self._line(f"    {name}  (recorded only: its app does not migrate on this alias)", level=2)

    def _apply(self, executor: MigrationExecutor, plan: AliasPlan) -> None:
        """What ``migrate`` does for one alias, for the given targets, in this process."""
        connection = executor.connection
        connection.prepare_database()
        # A private method, but the one migrate itself calls (Django 4.2 to 6.0).
        pre_migrate_state = executor._create_project_state(  # type: ignore[attr-defined]
            with_applied_migrations=True
        )
        emit_pre_migrate_signal(
            self.verbosity, self.interactive, connection.alias,
            stdout=self.stdout, apps=pre_migrate_state.apps, plan=plan.steps,
        )
        post_migrate_state = self._migrate(executor, plan, pre_migrate_state.clone())
        emit_post_migrate_signal(
            self.verbosity, self.interactive, connection.alias,
            stdout=self.stdout, apps=self._rendered(post_migrate_state).apps, plan=plan.steps,
        )

    @staticmethod
    def _migrate(executor: MigrationExecutor, plan: AliasPlan, state: Any) -> Any:
        """``executor.migrate(plan.steps)``, with the steps that cannot touch this alias only recorded.

        A step of an app that lives elsewhere, made only of routed schema operations
        (:data:`~djcfg_env.release.plan.ROUTED_OPERATIONS`), changes nothing here: ``migrate``
        would render every model for it and open a schema editor only to skip each operation.
        Such steps are recorded (with the same progress events) and advance the project state
        without rendering it; the other steps run through ``executor.migrate``, in plan order.
        The shortcut needs to know what the router decides, so it is taken only when every
        router is an ``AppDatabaseRouter``.
        """
        shortcut = all(isinstance(each, AppDatabaseRouter) for each in router.routers)
        segments: list[tuple[bool, list[tuple[Migration, bool]]]] = []
        for step in plan.steps:
            record_only = shortcut and plan.recorded_only(step[0]) and only_routed_operations(step[0])
            if segments and segments[-1][0] == record_only:
                segments[-1][1].append(step)
            else:
                segments.append((record_only, [step]))
        callback = executor.progress_callback
        for record_only, steps in segments:
            if not record_only:
                state = executor.migrate(plan.targets, plan=steps, state=state, fake=False, fake_initial=False)
                continue
            # Forget the rendered models: the state then changes without re-rendering them,
            # and the next applied step renders them once ("Render all", as migrate does).
            state.__dict__.pop("apps", None)
            for migration, _ in steps:
                if callback:
                    callback("apply_start", migration, False)
                record_migration(executor, migration)
                state = migration.mutate_state(state, preserve=False)
                if callback:
                    callback("apply_success", migration, False)
        return state

    @staticmethod
    def _rendered(state: Any) -> Any:
        """As migrate does after migrating: the real apps' models re-rendered with their relations."""
        state.clear_delayed_apps_cache()
        post_migrate_apps = state.apps
        with post_migrate_apps.bulk_update():
            model_keys = []
            for model_state in post_migrate_apps.real_models:
                model_key = model_state.app_label, model_state.name_lower
                model_keys.append(model_key)
                post_migrate_apps.unregister_model(*model_key)
        post_migrate_apps.render_multiple(
            [ModelState.from_model(apps.get_model(*model)) for model in model_keys]
        )
        return state

    def _probe_up_to_date(
        self, aliases: list[str], selected_apps: frozenset[str] | None, mode: str
    ) -> frozenset[str]:
        """The aliases whose migrations are all recorded, checked in parallel threads.

        Connecting is most of a no-op run's cost, so the connections are opened
        concurrently (each thread has its own, closed when done). Any error here
        only means "not known": the ordered run then handles that alias fully
        and reports the error.
        """
        if len(aliases) < 2:
            return frozenset()
        self.probe_unreachable: dict[str, str] = {}

        def probe(alias: str) -> str | None:
            connection = connections[alias]
            try:
                try:
                    connect_bounded(connection)
                except DatabaseError as error:
                    # Not tried again by the ordered run: a server that never answers
                    # costs its connect timeout once, not twice.
                    self.probe_unreachable[alias] = self._error_text(error)
                    return None
                except ServerNotAnswering as error:
                    self.probe_unreachable[alias] = f"{type(error).__name__}: {error}"
                    return None
                if not is_up_to_date(connection, self.disk, selected_apps):
                    return None
                if mode == "migrate" and post_migrate_missing(connection):
                    return None  # the ordered run sends post_migrate again
                return alias
            except Exception:  # noqa: BLE001 - reported by the ordered run
                return None
            finally:
                try:
                    connection.close()
                except Exception:  # noqa: BLE001
                    pass

        with ThreadPoolExecutor(max_workers=min(8, len(aliases))) as pool:
            return frozenset(alias for alias in pool.map(probe, aliases) if alias)

    # -- --wait -------------------------------------------------------------------
    def _wait_for(self, aliases: list[str], seconds: float) -> tuple[str, str] | None:
        """Wait until every alias accepts connections; (alias, error) of the first that never did."""
        deadline = time.monotonic() + seconds
        delay = WAIT_FIRST_DELAY
        for alias in aliases:
            connection = connections[alias]
            # Each attempt is bounded, within the budget (a server that accepts TCP
            # and never answers must not outlast --wait).
            attempt_limit = float(
                (connection.settings_dict.get("OPTIONS") or {}).get("connect_timeout")
                or DEFAULT_CONNECT_TIMEOUT
            )
            announced = False
            while True:
                try:
                    try_connect(connection, min(attempt_limit, max(deadline - time.monotonic(), 0.0)))
                except (DatabaseError, ServerNotAnswering) as error:
                    text = self._error_text(error)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._problem(
                            f"[{alias}] gave up waiting after {seconds:g}s for "
                            f"{self._where(alias)}: {text}"
                        )
                        return alias, f"not reachable within --wait {seconds:g}s: {text}"
                    pause = min(delay, remaining)
                    if not announced or self.verbosity >= 2:
                        self._line(
                            f"[{alias}] waiting for {self._where(alias)} to accept "
                            f"connections ({text}); retrying for up to {remaining:.0f}s"
                        )
                        announced = True
                    time.sleep(pause)
                    delay = min(delay * 2, WAIT_MAX_DELAY)
                    continue
                if announced:
                    self._line(f"[{alias}] {self._where(alias)} accepts connections")
                break
        return None


@contextlib.contextmanager
def _session_options() -> Iterator[None]:
    """Every alias's connections of this run: a connect timeout, and migrate_all's application_name.

    The ``OPTIONS`` dict of each PostgreSQL and MySQL/MariaDB alias is replaced
    by a copy with a ``connect_timeout`` (the URL's, else
    :data:`DEFAULT_CONNECT_TIMEOUT`) and, on PostgreSQL, ``application_name``
    :data:`APPLICATION_NAME`; the user's dict is put back when the run ends.
    """
    saved: list[tuple[dict[str, Any], Any]] = []
    try:
        for alias in connections:
            settings_dict = connections[alias].settings_dict
            vendor = connections[alias].vendor
            if vendor not in ("postgresql", "mysql"):
                continue
            saved.append((settings_dict, settings_dict.get("OPTIONS")))
            settings_dict["OPTIONS"] = connection_options(
                vendor, settings_dict.get("OPTIONS"), application_name=APPLICATION_NAME
            )
        yield
    finally:
        for settings_dict, options in saved:
            settings_dict["OPTIONS"] = options


def _table_lock_seconds(lock_timeout: float) -> float:
    """The bound on each table-lock wait of a migration: --lock-timeout, at least 1 s."""
    return max(1.0, lock_timeout)


def _bound_lock_waits(connection: BaseDatabaseWrapper, lock_timeout: float) -> None:
    """Bound every table-lock wait of the migrations on this session by --lock-timeout.

    PostgreSQL: ``lock_timeout``; MySQL/MariaDB: ``lock_wait_timeout`` (metadata
    locks) and ``innodb_lock_wait_timeout`` (row locks); SQLite: ``busy_timeout``
    (another process writing to the file). At least 1 s (0 would mean "no limit"
    on PostgreSQL). A wait that runs out fails the migration, which is reported
    as a lock timeout (exit 3).
    """
    seconds = _table_lock_seconds(lock_timeout)
    if connection.vendor == "postgresql":
        statements = [f"SET lock_timeout = {int(seconds * 1000)}"]
    elif connection.vendor == "mysql":
        whole = min(int(math.ceil(seconds)), 31536000)
        statements = [
            f"SET SESSION lock_wait_timeout = {whole}",
            f"SET SESSION innodb_lock_wait_timeout = {whole}",
        ]
    elif connection.vendor == "sqlite":
        statements = [f"PRAGMA busy_timeout = {int(seconds * 1000)}"]
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _is_lock_wait_timeout(error: BaseException) -> bool:
    """A lock wait that ran out: SQLSTATE 55P03 (PostgreSQL), error 1205 (MySQL/MariaDB),
    "database is locked" (SQLite)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if code == "55P03":
            return True
        args = getattr(current, "args", ())
        if args and (args[0] == 1205 or args[0] == "database is locked"):
            return True
        current = current.__cause__ or current.__context__
    return False


def _records(result: AliasResult) -> str:
    """" (and recorded N migrations of apps on other aliases, as migrate does)", or ""."""
    if not result.recorded:
        return ""
    return f" (and recorded {count_phrase(len(result.recorded))} of apps on other aliases, as migrate does)"


class _FailedWithResult(Exception):
    """Migrating an alias failed; carries what was applied before and where it stopped."""

    def __init__(self, result: AliasResult) -> None:
        super().__init__(result.error)
        self.result = result


class _Progress:
    """MigrationExecutor's progress callback: remembers what ran, prints it at -v 2."""

    def __init__(self, command: Release, alias: str) -> None:
        self.command = command
        self.alias = alias
        self.current: str | None = None
        #: The apps that live on this alias (their migrations are applied; others only recorded).
        self.routed: frozenset[str] = frozenset()
        self.applied: list[str] = []
        self.recorded: list[str] = []
        self._started = 0.0

    def __call__(
        self, action: str, migration: Migration | None = None, fake: bool | None = False, /
    ) -> None:
        if action == "apply_start" and migration is not None:
            self.current = f"{migration.app_label}.{migration.name}"
            self._started = time.monotonic()
            self.command._line(f"[{self.alias}]   applying {self.current} ...", level=2)
        elif action == "apply_success" and migration is not None:
            done = self.applied if migration.app_label in self.routed else self.recorded
            done.append(f"{migration.app_label}.{migration.name}")
            self.command._line(
                f"[{self.alias}]   applied {self.current} ({time.monotonic() - self._started:.3f}s)",
                level=2,
            )
            self.current = None
