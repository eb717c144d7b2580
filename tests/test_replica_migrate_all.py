"""``migrate_all`` with read replicas (``replica_of``): skipped, reported, waited for only when asked.

Subprocesses of tests/release_project, as a release phase runs them. On SQLite a
"replica" is the primary's own file opened read-only (``?replica_of=default``):
what the primary's migrations create is there, and migrate_all must not touch it
again. A replica that never answers is a PostgreSQL URL to a closed port: ``--wait``
alone does not wait for it, ``--wait --wait-replicas`` does and gives up (exit 3).
With the hot standby of tests/pg_replica.py, a real streaming replica gets its
primary's tables by replication, and ``--wait --wait-replicas`` passes.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests import pg, pg_replica
from tests.conftest import ROOT, run
from tests.pg import PostgresDatabases

MANAGE = str(ROOT / "tests" / "release_project" / "manage.py")
#: Must never reach the output.
DISTINCTIVE = "Osprey-Replica-PW-4471"
#: A replica on a port nothing listens on.
UNREACHABLE_REPLICA = f"postgres://reader:{DISTINCTIVE}@127.0.0.1:1/far?replica_of=default"


def migrate_all(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    result = run(
        ["python", MANAGE, "migrate_all", "--noinput", *args],
        env={"SECRET_KEY": "replica-release-not-a-secret", **env},
    )
    assert DISTINCTIVE not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def migration_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT app, name FROM django_migrations").fetchall())


def tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """One SQLite primary (catalog routed to an alias of its own) and a replica of default: its file."""
    root = tmp_path_factory.mktemp("replica-release")
    main = root / "main.db"
    env = {
        "DATABASE_URL": f"sqlite:///{main}",
        "DATABASE_URL_DEFAULT_REPLICA": f"sqlite:///{main}?replica_of=default",
        "DATABASE_URL_CATALOG": f"sqlite:///{root / 'catalog.db'}",
        "DATABASE_URL_CATALOG_REPLICA": f"sqlite:///{root / 'catalog.db'}?replica_of=catalog&replica_max_lag=5",
        "DB_ROUTE_CATALOG": "catalog",
    }
    return env, main


def test_plan_check_and_migrate_skip_replicas_and_say_whose(release: tuple[dict[str, str], Path]) -> None:
    env, main = release
    plan = migrate_all("--plan", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[0] == (
        "migrate_all: plan 2 aliases (default, catalog); skipping replicas: catalog_replica "
        "(replica of catalog), default_replica (replica of default)"
    )
    assert f"[default_replica] skipped: replica of default (sqlite {main})" in lines
    assert (
        "migrate_all: plan only, nothing changed: 2 with migrations to apply, 2 skipped (catalog_replica: "
        "replica of catalog; default_replica: replica of default) in" in plan.stdout
    )
    assert tables(main) == set()

    first = migrate_all(env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    starts = [line.split("]")[0][1:] for line in first.stdout.splitlines() if "] start:" in line]
    assert starts == ["default", "catalog"]  # never a replica
    assert "[catalog_replica] skipped: replica of catalog (sqlite " in first.stdout
    assert (
        "migrate_all: ok: 2 migrated, 2 skipped (catalog_replica: replica of catalog; default_replica: "
        "replica of default) in"
    ) in first.stdout
    # The primary's file (which the replica reads) has each migration once: the replica added nothing.
    rows = migration_rows(main)
    assert len(rows) == len(set(rows)) and ("auth", "0001_initial") in rows
    assert {"auth_user", "django_content_type"} <= tables(main)


def test_only_a_replica_selected_and_an_app_routed_to_a_replica(release: tuple[dict[str, str], Path]) -> None:
    env, main = release
    before = migration_rows(main) if main.exists() else []
    result = migrate_all(
        "--database", "default_replica", "--app", "orders", env={**env, "DB_ROUTE_ORDERS": "default_replica"}
    )
    # Nothing to migrate, exit 0; the app's note says why.
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "migrate_all: migrating 0 aliases (none); skipping replicas: default_replica (replica of default); "
        "apps: orders"
    )
    assert "migrate_all: ok: 1 skipped (default_replica: replica of default) in" in result.stdout
    assert (
        "--app orders: nothing to migrate: the app is routed to 'default_replica', a replica of "
        "'default', and migrate_all never migrates a replica (it gets its primary's tables by "
        "replication)"
    ) in result.stdout
    # The system check says the route is probably a mistake (a warning: the release goes on).
    assert "(djcfg_env.W007) DB_ROUTE_ORDERS routes the app 'orders' directly to 'default_replica'" in (
        result.stdout + result.stderr
    )
    assert (migration_rows(main) if main.exists() else []) == before


def test_wait_waits_for_replicas_only_with_wait_replicas(tmp_path: Path) -> None:
    main = tmp_path / "main.db"
    env = {"DATABASE_URL": f"sqlite:///{main}", "DATABASE_URL_FAR_REPLICA": UNREACHABLE_REPLICA}

    waited = migrate_all("--wait", "1", "--wait-replicas", env=env)
    assert waited.returncode == 3, waited.stdout + waited.stderr
    assert "[far_replica] waiting for postgresql 127.0.0.1:1/far to accept connections" in waited.stdout
    assert "[far_replica] gave up waiting after 1s" in waited.stdout
    assert "unreachable: far_replica: not reachable within --wait 1s" in waited.stdout
    assert "not attempted: default" in waited.stdout
    assert tables(main) == set()  # nothing migrated

    plain = migrate_all("--wait", "1", "--plan", env=env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "waiting" not in plain.stdout
    assert "[far_replica] skipped: replica of default (postgresql 127.0.0.1:1/far)" in plain.stdout
    assert (
        "migrate_all: plan only, nothing changed: 1 with migrations to apply, 1 skipped (far_replica: "
        "replica of default)"
    ) in plain.stdout


def test_wait_replicas_without_wait_is_a_usage_error(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'main.db'}",
        "DATABASE_URL_FAR_REPLICA": UNREACHABLE_REPLICA,
    }
    result = migrate_all("--wait-replicas", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "--wait-replicas needs --wait SECONDS: give --wait SECONDS --wait-replicas to wait for the "
        "replicas as well as the primaries."
    ) in result.stderr
    assert tables(tmp_path / "main.db") == set()


@pytest.mark.postgres
def test_a_streaming_replica_gets_the_tables_by_replication(postgres: PostgresDatabases) -> None:
    pg_replica.require_replica()
    dbname = postgres.create("primary")
    pg_replica.wait_for_database(dbname)
    env = {
        "DATABASE_URL": postgres.url(dbname),
        "DATABASE_URL_DEFAULT_REPLICA": pg_replica.replica_url(
            dbname, "replica_of=default&replica_max_lag=10"
        ),
    }
    result = migrate_all("--wait", "10", "--wait-replicas", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting" not in result.stdout
    assert (
        f"[default_replica] skipped: replica of default (postgresql 127.0.0.1:{pg_replica.PORT}/{dbname})"
    ) in result.stdout
    assert "migrate_all: ok: 1 migrated, 1 skipped (default_replica: replica of default)" in result.stdout
    pg_replica.wait_replayed()
    on_primary = sorted(pg.execute("SELECT app, name FROM django_migrations", dbname))
    on_replica = sorted(pg_replica.execute("SELECT app, name FROM django_migrations", dbname))
    assert on_replica == on_primary and ("auth", "0001_initial") in on_replica
