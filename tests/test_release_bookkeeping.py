"""``migrate_all`` keeps Django's books, creates no constraint across databases, and checks first.

On fresh seed databases (SQLite files and real PostgreSQL), through ``manage.py``:

* every alias records every migration, as ``migrate --database`` does, while tables are created
  only where the router allows; ``migrate --check`` and ``showmigrations`` agree on every alias;
  content types and permissions exist for every app, wherever it is routed;
* a run stopped during ``post_migrate`` converges on the next one;
* a third-party-style app whose migrations have foreign keys into other databases migrates
  with no edit (``CROSS_DATABASE_FOREIGN_KEYS``), with ``migrate_all`` and plain ``migrate``;
* a setup the checks call an error (a route typo, the switch off) stops the release with exit 2
  before anything is migrated; ``--skip-checks`` opts out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run
from tests.seed_project import harness
from tests.seed_project.harness import CHECK_PROJECT, WRITABLE, Seed, databases  # noqa: F401 - fixture

FKAPP = {"EXTRA_APPS": "fkapp", "DB_ROUTE_FKAPP": "shop_db"}


def migrate_all(seed: Seed, *args: str, env: dict[str, str] | None = None, project=None):
    return run(["python", "manage.py", "migrate_all", "--noinput", *args], env={**seed.env, **(env or {})},
               cwd=project or CHECK_PROJECT)


def recorded(seed: Seed, alias: str) -> set[tuple[str, str]]:
    return {(str(app), str(name)) for app, name in seed.rows(alias, "SELECT app, name FROM django_migrations")}


@pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)
def test_every_alias_records_every_migration_and_a_stopped_post_migrate_converges(databases: Seed) -> None:
    seed = databases
    result = migrate_all(seed)
    assert result.returncode == 0, result.stdout + result.stderr
    books = {alias: recorded(seed, alias) for alias in WRITABLE}
    assert books["default"] == books["blog_db"] == books["shop_db"]
    assert {("blog", "0001_initial"), ("shop", "0001_initial"), ("auth", "0001_initial")} <= books["blog_db"]
    # ...while each alias has only its own apps' tables.
    assert "auth_user" not in seed.tables("blog_db") and "blog_post" in seed.tables("blog_db")
    assert "blog_post" not in seed.tables("default")
    # migrate --check and showmigrations per alias, and runserver's warning, in one process.
    books_out = seed.shell("""
        import io
        from django.core.management import call_command
        from django.core.management.base import BaseCommand
        out = {}
        for alias in ("default", "blog_db", "shop_db"):
            try:
                call_command("migrate", check=True, database=alias, verbosity=0)
                code = 0
            except SystemExit as exit:
                code = exit.code
            shown = io.StringIO()
            call_command("showmigrations", database=alias, stdout=shown)
            out[alias] = [code, shown.getvalue()]
        warning = io.StringIO()
        command = BaseCommand(stdout=warning)
        command.check_migrations()
        out["runserver"] = warning.getvalue()
        result(out)
    """)
    for alias in WRITABLE:
        code, shown = books_out[alias]
        assert code == 0, (alias, shown)
        assert "[ ]" not in shown and "[X] 0001_initial" in shown
    assert "unapplied migration" not in books_out["runserver"]
    # Content types and permissions of the routed apps live on default, with contenttypes/auth.
    permissions = {
        (str(app), str(code)) for app, code in seed.rows(
            "default",
            "SELECT c.app_label, p.codename FROM auth_permission p "
            "JOIN django_content_type c ON c.id = p.content_type_id",
        )
    }
    assert {("blog", "change_post"), ("shop", "add_order"), ("analytics", "view_pageview")} <= permissions

    # What a run killed during post_migrate leaves: every migration recorded, permissions missing.
    seed.execute("default", "DELETE FROM auth_permission WHERE codename IN "
                            "('add_post', 'change_post', 'delete_post', 'view_post')")
    noop = migrate_all(seed)
    assert noop.returncode == 0, noop.stdout + noop.stderr
    assert "content types or permissions are missing" in noop.stdout
    assert seed.count("default", "auth_permission", "codename = 'change_post'") == 1
    again = migrate_all(seed)
    assert "content types or permissions are missing" not in again.stdout
    assert "up to date" in again.stdout


def foreign_keys(seed: Seed, alias: str, table: str) -> set[str]:
    """The tables ``table``'s foreign-key constraints point at, read from the database itself."""
    if seed.backend == "postgresql":
        rows = seed.rows(
            alias,
            "SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = %s::regclass",
            [table],
        )
    else:
        rows = [(row[2],) for row in seed.rows(alias, f"PRAGMA foreign_key_list({table})")]
    return {str(row[0]) for row in rows}


@pytest.mark.parametrize(
    ("databases", "runner"),
    [("sqlite", "migrate_all"), ("postgresql", "migrate_all"), ("postgresql", "migrate")],
    indirect=["databases"],
)
def test_foreign_keys_into_another_database_get_no_constraint(databases: Seed, runner: str) -> None:
    seed = databases
    seed.env.update(FKAPP)
    if runner == "migrate_all":
        result = migrate_all(seed)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        for alias in WRITABLE:
            result = run(["python", "manage.py", "migrate", "--database", alias, "--noinput"], env=seed.env,
                         cwd=CHECK_PROJECT)
            assert result.returncode == 0, result.stdout + result.stderr
    # Note.post -> blog_db and Note.owner -> default: no constraint; Note.shelf (same database): one.
    assert foreign_keys(seed, "shop_db", "fkapp_note") == {"fkapp_shelf"}
    # And the rows work across the databases, deletes included.
    out = run(["python", "manage.py", "shell", "-c", (
        "from django.contrib.auth.models import User\n"
        "from blog.models import Post\n"
        "from fkapp.models import Note, Shelf\n"
        "user = User.objects.create_user('fk'); post = Post.objects.create(title='t', author=user)\n"
        "Note.objects.create(post=post, owner=user, shelf=Shelf.objects.create(name='s'))\n"
        "print(sorted(user.delete()[1].items()))\n"
    )], env=seed.env, cwd=CHECK_PROJECT)
    assert out.returncode == 0, out.stderr
    assert "('fkapp.Note', 1)" in out.stdout and "('blog.Post', 1)" in out.stdout


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
def test_with_the_switch_off_the_checks_stop_the_release_before_anything_is_migrated(databases: Seed) -> None:
    seed = databases
    off = {**FKAPP, "SEED_DJCFG_ENV": '{"CROSS_DATABASE_FOREIGN_KEYS": false}'}
    stopped = migrate_all(seed, env=off)
    assert stopped.returncode == 2
    assert "(djcfg_env.E001) fkapp.Note.post is a ForeignKey to blog.Post across databases" in stopped.stderr
    assert "migrate_all: exit 2: the system checks found errors" in stopped.stderr
    assert "django_migrations" not in seed.tables("default")  # nothing was migrated
    # --skip-checks: the release runs, and PostgreSQL refuses the constraint, as the check said.
    skipped = migrate_all(seed, "--skip-checks", env=off)
    assert skipped.returncode == 1
    assert 'relation "blog_post" does not exist' in skipped.stdout


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_a_route_typo_stops_the_release_with_exit_2(databases: Seed) -> None:
    seed = databases
    result = migrate_all(seed, env={"DB_ROUTE_BLGO": "blog_db"})
    assert result.returncode == 2
    assert "(djcfg_env.E003) DB_ROUTE_BLGO routes the app label 'blgo' to 'blog_db'" in result.stderr
    assert "Did you mean the app label 'blog'?" in result.stderr
    assert "django_migrations" not in seed.tables("default")


def schema(seed: Seed, alias: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything ``migrate`` leaves on an alias: tables, columns, constraints, indexes, books."""
    if seed.backend == "postgresql":
        queries = {
            "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default"
                       " FROM information_schema.columns WHERE table_schema = 'public'",
            "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                           " FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "indexes": "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        }
    else:
        queries = {"objects": "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"}
    found = {what: sorted(seed.rows(alias, sql)) for what, sql in queries.items()}
    found["migrations"] = sorted(recorded(seed, alias))
    tables = {str(row[1]) for row in found.get("objects", [])} | {str(row[0]) for row in found.get("columns", [])}
    if "django_content_type" in tables:
        found["content types"] = sorted(seed.rows(alias, "SELECT app_label, model FROM django_content_type"))
    if "auth_permission" in tables:
        found["permissions"] = sorted(seed.rows(alias, "SELECT codename FROM auth_permission"))
    return found


@pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)
def test_migrate_all_leaves_every_alias_as_migrate_database_leaves_it(
    databases: Seed, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # migrate_all records the steps of apps that live elsewhere without running them (they
    # are routed schema operations, which do nothing there); the result must be migrate's.
    by_release = databases
    if by_release.backend == "postgresql":
        by_migrate = harness.postgres_seed(request.getfixturevalue("postgres"))
    else:
        (tmp_path / "plain").mkdir()
        by_migrate = harness.sqlite_seed(tmp_path / "plain")
    for seed in (by_release, by_migrate):
        seed.env.update({"EXTRA_APPS": "fkapp,m2mlink,m2mthrough", "DB_ROUTE_FKAPP": "shop_db",
                         "DB_ROUTE_M2MLINK": "blog_db", "DB_ROUTE_M2MTHROUGH": "blog_db"})
    result = migrate_all(by_release, "-v", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrations of apps on other aliases, as migrate does" in result.stdout
    for alias in WRITABLE:
        done = run(["python", "manage.py", "migrate", "--database", alias, "--noinput"], env=by_migrate.env,
                   cwd=CHECK_PROJECT)
        assert done.returncode == 0, done.stdout + done.stderr
    for alias in WRITABLE:
        assert schema(by_release, alias) == schema(by_migrate, alias), alias


def test_every_routed_operation_does_nothing_where_its_model_may_not_migrate() -> None:
    # What the shortcut above relies on, read from this Django's source: a Django release that
    # changes one of these operations fails here, naming it.
    import inspect

    from djcfg_env.release.plan import ROUTED_OPERATIONS

    assert {op.__name__ for op in ROUTED_OPERATIONS} >= {
        "CreateModel", "DeleteModel", "AddField", "RemoveField", "AlterField", "RenameField", "AddIndex",
    }
    for operation in ROUTED_OPERATIONS:
        body = inspect.getsource(operation.database_forwards)
        code = [line.strip() for line in body.splitlines()[1:] if line.strip() and not line.strip().startswith("#")]
        if code == ["pass"]:
            continue  # AlterModelOptions, AlterModelManagers: nothing on any database
        asks = "self.allow_migrate_model(schema_editor.connection.alias"
        guard = next((i for i, line in enumerate(code) if asks in line), None)
        assert guard is not None, f"{operation.__name__}.database_forwards no longer asks the router:\n{body}"
        assert code[guard].startswith(f"if {asks}") or (
            code[guard].startswith(f"if not {asks}") and code[guard + 1] == "return"
        ), f"{operation.__name__}.database_forwards changed how it asks the router:\n{body}"
        assert all("schema_editor" not in line for line in code[:guard]), (
            f"{operation.__name__}.database_forwards uses the schema editor before asking the router:\n{body}"
        )


def test_the_private_executor_methods_the_shortcut_calls_have_the_parameters_it_passes() -> None:
    import inspect

    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.migration import Migration

    from djcfg_env.release import run as release_run

    record = list(inspect.signature(MigrationExecutor.record_migration).parameters)
    assert record in (["self", "migration"], ["self", "app_label", "name", "forward"]), (
        f"django.db.migrations.executor.MigrationExecutor.record_migration: djcfg-env passes a migration "
        f"(Django 4.2 to 5.2) or its app label and name (6.0); Django now has ({', '.join(record)})"
    )
    assert release_run.RECORD_BY_NAME == (record[1] == "app_label")
    assert list(inspect.signature(Migration.mutate_state).parameters)[:3] == ["self", "project_state", "preserve"]
