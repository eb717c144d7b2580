"""``manage.py migrate_all`` end to end: subprocesses of tests/release_project on real databases.

PostgreSQL databases come from the ``postgres`` fixture (made per test, dropped
after); SQLite databases are files in ``tmp_path``. Every test that involves a
password uses a distinctive one and asserts it never reaches the output.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests import pg
from tests.conftest import ROOT, run
from tests.pg import PostgresDatabases

MANAGE = str(ROOT / "tests" / "release_project" / "manage.py")
DJANGO_APPS_ON_DEFAULT = ("auth", "contenttypes")
FLAKY = ["flaky.0001_initial", "flaky.0002_release_step", "flaky.0003_marker_note"]
CATALOG = ["catalog.0001_initial", "catalog.0002_product_sku"]
BASE_ENV = {"SECRET_KEY": "release-tests-not-a-secret"}
#: A password that would be noticed anywhere in the output.
DISTINCTIVE = "Zq9-distinctive-PW-7731"


def migrate_all(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run(["python", MANAGE, "migrate_all", *args], env={**BASE_ENV, **env}, timeout=timeout)


def pg_rows(dbname: str) -> list[tuple[str, str]]:
    """(app, name) of every row of django_migrations, duplicates kept."""
    tables = pg.execute("SELECT to_regclass('django_migrations') IS NOT NULL", dbname)
    if not tables[0][0]:
        return []
    return [(str(a), str(n)) for a, n in pg.execute("SELECT app, name FROM django_migrations", dbname)]


def pg_tables(dbname: str) -> set[str]:
    rows = pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbname)
    return {str(row[0]) for row in rows}


def sqlite_rows(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        has = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='django_migrations'"
        ).fetchone()
        if not has:
            return []
        return [(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations")]


def names(rows: list[tuple[str, str]], app: str) -> list[str]:
    return sorted(f"{a}.{n}" for a, n in rows if a == app)


def pg_env(
    postgres: PostgresDatabases, aliases: dict[str, str | None], **extra: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Fresh databases for ``aliases`` (alias -> app routed there, or None); (env, alias->dbname)."""
    env: dict[str, str] = {}
    dbnames: dict[str, str] = {}
    for alias, app in aliases.items():
        dbname = postgres.create(alias)
        dbnames[alias] = dbname
        variable = "DATABASE_URL" if alias == "default" else f"DATABASE_URL_{alias.upper()}"
        env[variable] = postgres.url(dbname)
        if app:
            env[f"DB_ROUTE_{app.upper()}"] = alias
    env.update(extra)
    return env, dbnames


def assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


# -- fresh, no-op, plan, check ------------------------------------------------------


def test_fresh_then_noop_on_postgres(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog", "flaky": "flaky"})
    first = migrate_all("--noinput", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    # default first, then the others by name; one start and one end line each.
    starts = [line.split("]")[0][1:] for line in out.splitlines() if "] start:" in line]
    assert starts == ["default", "catalog", "flaky"]
    assert f"[catalog] start: postgresql 127.0.0.1:5432/{db['catalog']}" in out
    assert "[catalog] done: applied 2 migrations in " in out
    assert "[flaky] done: applied 3 migrations in " in out
    assert "migrate_all: ok: 3 migrated" in out
    assert_no_secret(first, postgres.password + "@")

    # Each alias got exactly its apps' tables, and each migration once.
    assert {"catalog_product"} <= pg_tables(db["catalog"])
    assert "auth_user" not in pg_tables(db["catalog"]) and "flaky_marker" not in pg_tables(db["catalog"])
    assert {"auth_user", "django_content_type", "orders_order"} <= pg_tables(db["default"])
    assert "catalog_product" not in pg_tables(db["default"])
    assert names(pg_rows(db["catalog"]), "catalog") == CATALOG
    assert names(pg_rows(db["flaky"]), "flaky") == FLAKY
    # Every alias records every migration, as migrate --database does (the tables stay apart).
    assert names(pg_rows(db["default"]), "catalog") == CATALOG
    for dbname in db.values():
        rows = pg_rows(dbname)
        assert len(rows) == len(set(rows))
    # post_migrate ran on default: content types exist for the routed apps too.
    assert pg.execute(
        "SELECT count(*) FROM django_content_type WHERE app_label = 'orders'", db["default"]
    )[0][0] == 1
    # The data migration ran on flaky's alias.
    assert pg.execute("SELECT label FROM flaky_marker", db["flaky"]) == [("release-step",)]

    second = migrate_all("--noinput", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    for alias in ("default", "catalog", "flaky"):
        assert f"[{alias}] done: up to date (" in second.stdout
    assert "migrate_all: ok: 3 up to date" in second.stdout
    assert sorted(pg_rows(db["flaky"])) == sorted(set(pg_rows(db["flaky"])))


def test_plan_lists_migrations_in_order_and_changes_nothing(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "flaky": "flaky"})
    result = migrate_all("--plan", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = lines.index(f"[flaky] start: postgresql 127.0.0.1:5432/{db['flaky']}")
    assert [line.strip() for line in lines[start + 1 : start + 4]] == FLAKY
    assert "[flaky] plan: 3 migrations to apply" in result.stdout
    first = lines.index(f"[default] start: postgresql 127.0.0.1:5432/{db['default']}") + 1
    last = next(i for i, line in enumerate(lines) if line.startswith("[default] plan:"))
    planned = [line.strip() for line in lines[first:last]]
    assert planned.index("contenttypes.0001_initial") < planned.index("auth.0001_initial")
    assert "flaky.0001_initial" not in planned
    assert "plan only, nothing changed" in result.stdout
    for dbname in db.values():
        assert pg_tables(dbname) == set()


def test_check_exits_1_until_migrated(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog"})
    pending = migrate_all("--check", env=env)
    assert pending.returncode == 1, pending.stdout + pending.stderr
    assert "[catalog] check: 2 migrations not applied" in pending.stdout
    assert "not applied: catalog.0002_product_sku" in pending.stdout
    assert "unapplied migrations" in pending.stdout
    assert pg_tables(db["catalog"]) == set()

    assert migrate_all("--database", "default", env=env).returncode == 0
    partial = migrate_all("--check", env=env)
    assert partial.returncode == 1
    assert "[default] done: up to date" in partial.stdout
    assert "[catalog] check: 2 migrations not applied" in partial.stdout

    assert migrate_all(env=env).returncode == 0
    done = migrate_all("--check", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "migrate_all: ok: 2 up to date" in done.stdout


# -- selection ------------------------------------------------------------------------


def test_database_and_app_restrict_the_run(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog", "flaky": "flaky"})
    only = migrate_all("--database", "flaky", "--database", "catalog", env=env)
    assert only.returncode == 0, only.stdout + only.stderr
    starts = [line.split("]")[0][1:] for line in only.stdout.splitlines() if "] start:" in line]
    assert starts == ["catalog", "flaky"]
    assert pg_tables(db["default"]) == set()
    assert names(pg_rows(db["flaky"]), "flaky") == FLAKY

    app = migrate_all("--app", "orders", env=env)
    assert app.returncode == 0, app.stdout + app.stderr
    assert "[default] done: applied 1 migration in" in app.stdout
    assert "[catalog] done: no selected app migrates here" in app.stdout
    assert pg_tables(db["default"]) == {"orders_order", "django_migrations"}
    assert [row for row in pg_rows(db["default"])] == [("orders", "0001_initial")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database", "nope"], "--database 'nope': no such alias; defined aliases: default, catalog"),
        (["--app", "nope"], "--app 'nope': no installed app has this label"),
        (["--app", "djcfg_env"], "--app 'djcfg_env': this app has no migrations"),
        (["--wait", "soon"], "'soon' is not a number of seconds"),
        (["--lock-timeout", "-1"], "give a number of seconds >= 0"),
        (["--plan", "--check"], "not allowed with argument"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/default.db",
        "DATABASE_URL_CATALOG": f"sqlite:///{tmp_path}/catalog.db",
    }
    result = migrate_all(*args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (tmp_path / "default.db").exists() or sqlite_rows(tmp_path / "default.db") == []


def test_read_only_alias_is_skipped_and_reported(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog"})
    env["DATABASE_URL_CATALOG"] = postgres.url(db["catalog"], "read_only=true")
    result = migrate_all(env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[catalog] skipped: read-only (postgresql 127.0.0.1:5432/{db['catalog']})" in result.stdout
    assert "skipping read-only: catalog" in result.stdout
    assert "1 skipped (read-only)" in result.stdout
    assert "[catalog] start" not in result.stdout
    assert pg_tables(db["catalog"]) == set()


def test_app_that_nothing_in_the_run_migrates_says_why(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/default.db",
        "DATABASE_URL_FLAKY": f"sqlite:///{tmp_path}/flaky.db",
        "DB_ROUTE_FLAKY": "flaky",
        "DATABASE_URL_REPLICA": f"sqlite:///{tmp_path}/replica.db?read_only=true",
        "DB_ROUTE_CATALOG": "replica",
    }
    assert migrate_all(env=env).returncode == 0
    read_only = migrate_all("--app", "catalog", env=env)
    assert read_only.returncode == 0, read_only.stdout + read_only.stderr
    assert (
        "--app catalog: nothing to migrate: the app is routed to the read-only alias 'replica', "
        "and migrate_all never migrates a read-only alias"
    ) in read_only.stdout
    assert "[replica] skipped: read-only" in read_only.stdout

    left_out = migrate_all("--app", "flaky", "--database", "default", env=env)
    assert left_out.returncode == 0, left_out.stdout + left_out.stderr
    assert (
        "--app flaky: nothing to migrate: the app is routed to 'flaky', which this run does "
        "not include (see --database)"
    ) in left_out.stdout

    normal = migrate_all("--app", "flaky", env=env)
    assert normal.returncode == 0, normal.stdout + normal.stderr
    assert "--app flaky:" not in normal.stdout
    assert "[flaky] done: up to date" in normal.stdout


# -- unavailable, failing ------------------------------------------------------------------


def test_unreachable_database_exits_3_and_names_the_alias(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None})
    env["DATABASE_URL_ZED"] = f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:1/zed_db"
    env["DB_ROUTE_CATALOG"] = "zed"
    result = migrate_all(env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[default] done: applied" in result.stdout
    assert "[zed] UNREACHABLE after" in result.stdout
    assert "unreachable: zed: OperationalError" in result.stdout
    assert "127.0.0.1:1/zed_db" in result.stdout
    assert "done: default" in result.stdout
    assert_no_secret(result, DISTINCTIVE)


def test_login_refused_exits_3_without_the_password(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None})
    env["DATABASE_URL"] = f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:5432/{db['default']}"
    result = migrate_all(env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[default] UNREACHABLE" in result.stdout
    assert "password authentication failed" in result.stdout
    assert_no_secret(result, DISTINCTIVE)
    assert pg_tables(db["default"]) == set()


def test_wait_gives_up_with_exit_3_and_migrates_nothing(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None})
    env["DATABASE_URL_ZED"] = f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:1/zed_db"
    env["DB_ROUTE_CATALOG"] = "zed"
    result = migrate_all("--wait", "1", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[zed] waiting for postgresql 127.0.0.1:1/zed_db to accept connections" in result.stdout
    assert "[zed] gave up waiting after 1s" in result.stdout
    assert "not attempted: default" in result.stdout
    assert pg_tables(db["default"]) == set()
    assert_no_secret(result, DISTINCTIVE)


def test_wait_passes_when_databases_answer(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog"})
    result = migrate_all("--wait", "5", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting" not in result.stdout
    assert names(pg_rows(db["catalog"]), "catalog") == CATALOG


def test_failing_migration_exits_1_with_a_report(postgres: PostgresDatabases) -> None:
    env, db = pg_env(
        postgres,
        {"default": None, "flaky": "flaky", "zeta": "catalog"},
        RELEASE_PROJECT_FAIL="1",
    )
    result = migrate_all(env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "[flaky] FAILED after" in out
    assert "in flaky.0002_release_step: RuntimeError: flaky.0002 failed on purpose" in out
    assert "(applied 1 migration before that)" in out
    assert "  done: default" in out
    assert "  failed: flaky in flaky.0002_release_step: RuntimeError" in out
    assert "  not attempted: zeta" in out
    assert "A failed alias may need attention" in out
    assert "--keep-going" in out
    # 0001 stays applied, 0002 was rolled back, 0003 never ran; zeta untouched.
    assert names(pg_rows(db["flaky"]), "flaky") == ["flaky.0001_initial"]
    assert "flaky_marker" in pg_tables(db["flaky"])
    assert pg_tables(db["zeta"]) == set()

    # --keep-going goes on with zeta; the fixed run converges.
    going = migrate_all("--keep-going", env=env)
    assert going.returncode == 1
    assert "[zeta] done: applied 2 migrations" in going.stdout
    fixed = migrate_all(env={k: v for k, v in env.items() if k != "RELEASE_PROJECT_FAIL"})
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "[flaky] done: applied 2 migrations" in fixed.stdout
    assert names(pg_rows(db["flaky"]), "flaky") == FLAKY


def test_failure_wins_over_unreachable_with_keep_going(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "flaky": "flaky"}, RELEASE_PROJECT_FAIL="1")
    env["DATABASE_URL_ZED"] = f"postgres://djcfg:{DISTINCTIVE}@127.0.0.1:1/zed_db"
    env["DB_ROUTE_CATALOG"] = "zed"
    result = migrate_all("--keep-going", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  failed: flaky" in result.stdout
    assert "  unreachable: zed" in result.stdout
    assert_no_secret(result, DISTINCTIVE)


def test_error_text_never_shows_the_password(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "flaky": "flaky"}, RELEASE_PROJECT_FAIL="leak")
    result = migrate_all(env=env)
    assert result.returncode == 1
    assert "could not log in with password *** (on purpose)" in result.stdout
    assert_no_secret(result, f"password {postgres.password} ")


def test_a_failed_migration_quoting_the_settings_never_shows_the_secret_key(tmp_path: Path) -> None:
    secret_key = "release-SECRET-key-Kq81x-never-printed"
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/default.db",
        "DATABASE_URL_FLAKY": f"sqlite:///{tmp_path}/flaky.db",
        "DB_ROUTE_FLAKY": "flaky",
        "RELEASE_PROJECT_FAIL": "secret",
        "SECRET_KEY": secret_key,
    }
    result = migrate_all("--database", "flaky", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[flaky] FAILED after" in result.stdout
    assert "in flaky.0002_release_step: RuntimeError: could not sign with *** for" in result.stdout
    assert "  failed: flaky in flaky.0002_release_step" in result.stdout
    assert_no_secret(result, secret_key)


def test_bad_environment_fails_before_the_command(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"postgres://app:{DISTINCTIVE}@db:5432/main?read_only=maybe",
        "DB_ROUTE_CATALOG": "nowhere",
    }
    result = migrate_all(env=env)
    assert result.returncode == 2  # nothing was attempted
    assert "read_only" in result.stderr
    assert "DB_ROUTE_CATALOG" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("djcfg_env.exceptions.ConfigError: DATABASE_URL: ")
    assert "[default] start" not in result.stdout
    assert_no_secret(result, DISTINCTIVE)


def test_traceback_keeps_the_exit_code() -> None:
    # A server that refuses connections: exit 3, with or without --traceback.
    env = {"DATABASE_URL": f"postgres://app:{DISTINCTIVE}@127.0.0.1:9/main?connect_timeout=2"}
    plain = migrate_all(env=env)
    traced = migrate_all("--traceback", env=env)
    assert plain.returncode == traced.returncode == 3, traced.stdout + traced.stderr
    assert "Traceback (most recent call last)" in traced.stderr
    assert "CommandError: migrate_all: exit 3: a database was unavailable" in traced.stderr
    assert_no_secret(traced, DISTINCTIVE)


def test_help_documents_flags_and_exit_codes(tmp_path: Path) -> None:
    result = migrate_all("--help", env={"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"})
    assert result.returncode == 0
    for flag in ("--database", "--app", "--plan", "--check", "--wait", "--lock-timeout",
                 "--keep-going", "--skip-checks", "--noinput", "--verbosity"):
        assert flag in result.stdout
    assert "exit codes:" in result.stdout
    for line in ("0  every selected alias is up to date", "1  a migration failed",
                 "2  nothing was attempted: a usage error", "3  a database could not be reached"):
        assert line in result.stdout


def test_django_admin_runs_it(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/default.db",
        "DJANGO_SETTINGS_MODULE": "release_project.settings",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests' / 'release_project'}",
        **BASE_ENV,
    }
    result = run(["python", "-m", "django", "migrate_all", "--noinput"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[default] done: applied" in result.stdout
    assert names(sqlite_rows(tmp_path / "default.db"), "auth")
