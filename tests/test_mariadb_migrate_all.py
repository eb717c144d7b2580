"""``manage.py migrate_all`` on MySQL/MariaDB, end to end.

Subprocesses of tests/release_project (and of the seed project with a small app
written per test, for a migration that fails halfway) on databases the
``mariadb`` fixture makes and drops; results are read from each database
directly. MySQL runs DDL outside transactions, so what a failed or killed run
leaves behind is asserted table by table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from djcfg_env.release.locks import LOCK_NAME, mysql_lock_name
from tests import mysql
from tests.conftest import ROOT, run
from tests.mysql import MySQLDatabases
from tests.seed_project.harness import SEED_DIR
from tests.test_migrate_all import CATALOG, DISTINCTIVE, FLAKY, assert_no_secret, migrate_all, names
from tests.test_migrate_all_concurrency import COPIES, appliers, finish_all, start

pytestmark = pytest.mark.mysql


def my_env(
    mariadb: MySQLDatabases, aliases: dict[str, str | None], **extra: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Fresh MariaDB databases for ``aliases`` (alias -> app routed there, or None); (env, alias->name)."""
    env: dict[str, str] = {}
    dbnames: dict[str, str] = {}
    for alias, app in aliases.items():
        dbnames[alias] = mariadb.create(alias[:12])
        variable = "DATABASE_URL" if alias == "default" else f"DATABASE_URL_{alias.upper()}"
        env[variable] = mariadb.url(dbnames[alias])
        if app:
            env[f"DB_ROUTE_{app.upper()}"] = alias
    env.update(extra)
    return env, dbnames


def recorded(dbname: str) -> list[tuple[str, str]]:
    return mysql.migration_rows(dbname)


def assert_once(dbname: str) -> None:
    rows = recorded(dbname)
    assert [row for row, count in Counter(rows).items() if count > 1] == [], dbname


# -- plan, check, fresh, no-op -----------------------------------------------------------


def test_plan_check_fresh_and_noop(mariadb: MySQLDatabases) -> None:
    env, db = my_env(mariadb, {"default": None, "catalog": "catalog", "flaky": "flaky"})
    where = {alias: f"mysql 127.0.0.1:3306/{name}" for alias, name in db.items()}

    plan = migrate_all("--plan", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    lines = plan.stdout.splitlines()
    first = lines.index(f"[flaky] start: {where['flaky']}") + 1
    assert [line.strip() for line in lines[first : first + 3]] == FLAKY
    assert "[flaky] plan: 3 migrations to apply" in plan.stdout
    assert "[catalog] plan: 2 migrations to apply" in plan.stdout
    assert "plan only, nothing changed" in plan.stdout

    pending = migrate_all("--check", env=env)
    assert pending.returncode == 1, pending.stdout + pending.stderr
    assert "[catalog] check: 2 migrations not applied" in pending.stdout
    assert "not applied: catalog.0002_product_sku" in pending.stdout
    for name in db.values():
        assert mysql.tables(name) == set()  # neither --plan nor --check changed anything

    fresh = migrate_all("--noinput", env=env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    starts = [line.split("]")[0][1:] for line in fresh.stdout.splitlines() if "] start:" in line]
    assert starts == ["default", "catalog", "flaky"]
    assert f"[catalog] start: {where['catalog']}" in fresh.stdout
    assert "[catalog] done: applied 2 migrations in " in fresh.stdout
    assert "[flaky] done: applied 3 migrations in " in fresh.stdout
    assert "migrate_all: ok: 3 migrated" in fresh.stdout
    assert mysql.password_free(fresh)
    assert {"catalog_product", "django_migrations"} == mysql.tables(db["catalog"])
    assert {"auth_user", "django_content_type", "orders_order"} <= mysql.tables(db["default"])
    assert "catalog_product" not in mysql.tables(db["default"])
    assert names(recorded(db["catalog"]), "catalog") == CATALOG
    assert names(recorded(db["flaky"]), "flaky") == FLAKY
    # Every alias records every migration, as migrate --database does (the tables stay apart).
    assert names(recorded(db["default"]), "catalog") == CATALOG
    for name in db.values():
        assert_once(name)
    assert mysql.execute("SELECT label FROM flaky_marker", db["flaky"]) == [("release-step",)]
    # The sku column of catalog.0002 is there (an ALTER TABLE, committed on its own).
    columns = mysql.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        params=[db["catalog"], "catalog_product"],
    )
    assert ("sku",) in [tuple(c) for c in columns]

    noop = migrate_all("--noinput", env=env)
    assert noop.returncode == 0, noop.stdout + noop.stderr
    assert "migrate_all: ok: 3 up to date" in noop.stdout
    done = migrate_all("--check", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in db.values():
        assert_once(name)


# -- unreachable, refused ----------------------------------------------------------------


def test_wrong_password_and_unreachable_server_exit_3_without_the_password(mariadb: MySQLDatabases) -> None:
    env, db = my_env(mariadb, {"default": None, "catalog": "catalog"})
    env["DATABASE_URL"] = mariadb.url(db["default"], password=DISTINCTIVE)
    env["DATABASE_URL_CATALOG"] = f"mysql://djcfg:{DISTINCTIVE}@127.0.0.1:1/{db['catalog']}"
    result = migrate_all("--keep-going", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout
    assert "[default] UNREACHABLE after " in out
    assert "Access denied for user 'djcfg'" in out
    assert "[catalog] UNREACHABLE after " in out
    assert f"127.0.0.1:1/{db['catalog']}" in out
    assert "Can't connect to" in out  # (2002/2003) nothing listens on port 1
    assert "unreachable: default: OperationalError" in out
    assert "unreachable: catalog: OperationalError" in out
    assert "Traceback" not in out + result.stderr
    assert_no_secret(result, DISTINCTIVE)
    for name in db.values():
        assert mysql.tables(name) == set()


# -- a migration that fails halfway -----------------------------------------------------------

#: An app for the seed project (EXTRA_APPS=halfway): 0001 makes a table; 0002 makes
#: halfway_part, then fails when HALFWAY_FAIL is set, before it makes halfway_bin.
HALFWAY = {
    "__init__.py": "",
    "models.py": """
        from django.db import models

        class Shelf(models.Model):
            label = models.CharField(max_length=20)

        class Part(models.Model):
            name = models.CharField(max_length=20)

        class Bin(models.Model):
            code = models.CharField(max_length=20)
        """,
    "migrations/__init__.py": "",
    "migrations/0001_initial.py": """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            operations = [
                migrations.CreateModel("Shelf", [
                    ("id", models.BigAutoField(primary_key=True, serialize=False)),
                    ("label", models.CharField(max_length=20)),
                ]),
            ]
        """,
    "migrations/0002_parts.py": """
        import os

        from django.db import migrations, models

        def check(apps, schema_editor):
            if os.environ.get("HALFWAY_FAIL"):
                raise RuntimeError("halfway.0002 failed on purpose (HALFWAY_FAIL is set)")

        class Migration(migrations.Migration):
            dependencies = [("halfway", "0001_initial")]
            operations = [
                migrations.CreateModel("Part", [
                    ("id", models.BigAutoField(primary_key=True, serialize=False)),
                    ("name", models.CharField(max_length=20)),
                ]),
                migrations.RunPython(check, migrations.RunPython.noop),
                migrations.CreateModel("Bin", [
                    ("id", models.BigAutoField(primary_key=True, serialize=False)),
                    ("code", models.CharField(max_length=20)),
                ]),
            ]
        """,
}


def write_app(directory: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def test_a_failed_migration_leaves_its_tables_and_is_not_recorded(
    mariadb: MySQLDatabases, tmp_path: Path
) -> None:
    write_app(tmp_path / "apps" / "halfway", HALFWAY)
    name = mariadb.create("halfway")
    env = {
        "SECRET_KEY": "halfway-not-a-secret",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{tmp_path / 'apps'}",
        "EXTRA_APPS": "halfway",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'default.sqlite3'}",
        "DATABASE_URL_HALFWAY": mariadb.url(name),
        "DB_ROUTE_HALFWAY": "halfway",
    }

    def migrate(**extra: str) -> subprocess.CompletedProcess[str]:
        return run(["python", "manage.py", "migrate_all", "--noinput", "--database", "halfway"],
                   env={**env, **extra}, cwd=SEED_DIR)

    failed = migrate(HALFWAY_FAIL="1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    out = failed.stdout
    assert (
        "in halfway.0002_parts: RuntimeError: halfway.0002 failed on purpose (HALFWAY_FAIL is set) "
        "(applied 1 migration before that)"
    ) in out
    assert "  failed: halfway in halfway.0002_parts: RuntimeError" in out
    # What is left, exactly: 0001 applied and recorded; of 0002 the table made before the
    # failure (DDL commits at once on MySQL), not the one after it, and no record.
    assert mysql.tables(name) == {"django_migrations", "halfway_shelf", "halfway_part"}
    assert names(recorded(name), "halfway") == ["halfway.0001_initial"]
    # The summary says so, for this alias.
    summary = " ".join(out.split())
    assert (
        "A failed alias may need attention: on MySQL/MariaDB (halfway) schema changes are not "
        "transactional: the tables (and columns, indexes) the failing migration created before it "
        "failed are still there and it is not recorded, so running it again fails on them; drop "
        "them by hand before retrying (the migrations before it stay applied). Fix the cause"
    ) in summary
    assert "check that migration's tables by hand" not in summary

    # The cause fixed, the retry still fails: on the table the failed run left.
    retried = migrate()
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert "in halfway.0002_parts: OperationalError: (1050, \"Table 'halfway_part' already exists\")" in retried.stdout
    assert names(recorded(name), "halfway") == ["halfway.0001_initial"]
    assert mysql.tables(name) == {"django_migrations", "halfway_shelf", "halfway_part"}

    # Dropped by hand, the next run converges.
    mysql.execute("DROP TABLE halfway_part", name)
    fixed = migrate()
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "[halfway] done: applied 1 migration in " in fixed.stdout
    assert mysql.tables(name) == {"django_migrations", "halfway_shelf", "halfway_part", "halfway_bin"}
    assert names(recorded(name), "halfway") == ["halfway.0001_initial", "halfway.0002_parts"]
    assert_once(name)


def test_the_failure_advice_follows_each_failed_aliases_engine() -> None:
    from djcfg_env.release.report import AliasResult, Outcome, summary_lines

    def advice(*results: AliasResult) -> str:
        lines = summary_lines(list(results), 1.0, "migrate")
        return next(line for line in lines if "may need attention" in line)

    def failed(alias: str, vendor: str) -> AliasResult:
        return AliasResult(alias, Outcome.FAILED, error="E", migration="app.0002_x", vendor=vendor)

    transactional = "on PostgreSQL and SQLite each migration runs in a transaction"
    left = "schema changes are not transactional: the tables (and columns, indexes)"
    only_pg = advice(failed("main", "postgresql"))
    assert transactional in only_pg and left not in only_pg
    only_mysql = advice(failed("shop", "mysql"), failed("stock", "mysql"))
    assert transactional not in only_mysql
    assert f"on MySQL/MariaDB (shop, stock) {left}" in only_mysql
    both = advice(failed("main", "postgresql"), failed("shop", "mysql"))
    assert transactional in both and f"on MySQL/MariaDB (shop) {left}" in both
    assert both.endswith("Fix the cause, then run migrate_all again: it picks up where this run stopped.")


# -- concurrency and locks -------------------------------------------------------------------


def test_eight_copies_on_fresh_mariadb_databases(mariadb: MySQLDatabases) -> None:
    env, db = my_env(mariadb, {"default": None, "catalog": "catalog", "flaky": "flaky"})
    outputs = finish_all([start(env=env) for _ in range(COPIES)])
    for code, out, err in outputs:
        assert code == 0, out + err
        assert "already exists" not in out + err and "Duplicate" not in out + err
    for alias, name in db.items():
        assert_once(name)
        assert appliers(outputs, alias) == 1, alias  # one copy did the work, the others found it done
    assert sum("waiting for the MySQL GET_LOCK lock" in out for _, out, _ in outputs) >= 1
    assert names(recorded(db["catalog"]), "catalog") == CATALOG
    assert names(recorded(db["flaky"]), "flaky") == FLAKY
    assert len(names(recorded(db["default"]), "auth")) == 12
    assert mysql.execute("SELECT count(*) FROM flaky_marker", db["flaky"]) == [(1,)]


def read_until(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    line = ""
    while text not in line:
        line = process.stdout.readline()
        assert line, f"the copy ended before printing {text!r}"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_of_the_copy_holding_the_lock_lets_the_next_one_finish(mariadb: MySQLDatabases) -> None:
    env, db = my_env(mariadb, {"default": None, "flaky": "flaky"})
    holder = start("-v", "2", "--database", "flaky", env={**env, "RELEASE_PROJECT_SLEEP": "60"})
    try:
        read_until(holder, "applying flaky.0002_release_step")
        waiter = start("--database", "flaky", "--lock-timeout", "60", env=env)
        try:
            read_until(waiter, "[flaky] waiting for the MySQL GET_LOCK lock")
            os.kill(holder.pid, signal.SIGKILL)
            out, err = waiter.communicate(timeout=60)
        finally:
            waiter.kill()
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    assert waiter.returncode == 0, out + err
    # The server ended the killed session and its lock with it; 0002 ran in a transaction
    # (RunPython), so the killed copy left nothing of it: the next copy applied it.
    assert "[flaky] done: applied 2 migrations" in out
    assert names(recorded(db["flaky"]), "flaky") == FLAKY
    assert_once(db["flaky"])
    assert mysql.execute("SELECT count(*) FROM flaky_marker", db["flaky"]) == [(1,)]


@pytest.mark.parametrize(
    "database",
    ["", "a", "x" * 64, "y" * 65, "z" * 1000, "données_ünïcode_" * 10, "db`with'quotes\"and spaces"],
)
def test_lock_names_fit_mysql_64_characters(database: str) -> None:
    name = mysql_lock_name(database)
    assert len(name) <= 64
    assert name.startswith(f"{LOCK_NAME}.")
    assert name == mysql_lock_name(database)
    assert name != mysql_lock_name(database + "2")


def test_the_lock_of_a_database_with_a_64_character_name(mariadb: MySQLDatabases) -> None:
    alias = "catalog_on_the_database_with_the_longest_name_mysql_allows_for_it"
    long_name = mariadb.create("long", length=64)
    env, db = my_env(mariadb, {"default": None})
    env[f"DATABASE_URL_{alias.upper()}"] = mariadb.url(long_name)
    env["DB_ROUTE_CATALOG"] = alias
    lock = mysql_lock_name(long_name)
    assert len(long_name) == 64 and len(lock) <= 64

    import MySQLdb  # the server accepts the name (MySQL 5.7+ refuses names over 64 characters)

    info = mysql._conninfo()
    holder = MySQLdb.connect(host=info["host"], port=info["port"], user=info["user"],
                             password=info["password"], connect_timeout=3)
    try:
        cursor = holder.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", [lock])
        assert cursor.fetchone() == (1,)
        held = migrate_all("--noinput", "--lock-timeout", "1", f"--database={alias}", env=env)
        assert held.returncode == 3, held.stdout + held.stderr
        assert f"[{alias}] start: mysql 127.0.0.1:3306/{long_name}" in held.stdout
        assert f"[{alias}] waiting for the MySQL GET_LOCK lock" in held.stdout
        assert f"[{alias}] LOCK TIMEOUT after" in held.stdout
        assert mysql.tables(long_name) == set()
        cursor.execute("SELECT RELEASE_LOCK(%s)", [lock])
    finally:
        holder.close()
    free = migrate_all("--noinput", f"--database={alias}", env=env)
    assert free.returncode == 0, free.stdout + free.stderr
    assert f"[{alias}] done: applied 2 migrations" in free.stdout
    assert names(recorded(long_name), "catalog") == CATALOG
