"""Several ``migrate_all`` copies at once, a lock held elsewhere, a run killed midway.

All through ``manage.py migrate_all`` subprocesses of tests/release_project, on
fresh PostgreSQL databases and SQLite files; results are read from
``django_migrations`` directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from djcfg_env.release.locks import POSTGRES_LOCK_KEY, FileLock, sqlite_lock_path
from tests import pg
from tests.conftest import popen
from tests.pg import PostgresDatabases
from tests.test_migrate_all import (
    BASE_ENV,
    CATALOG,
    FLAKY,
    MANAGE,
    migrate_all,
    names,
    pg_env,
    pg_rows,
    sqlite_rows,
)

COPIES = 8


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return popen(["python", str(MANAGE), "migrate_all", "--noinput", *args], env={**BASE_ENV, **env})


def finish_all(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        outputs.append((process.returncode, out, err))
    return outputs


def appliers(outputs: list[tuple[int, str, str]], alias: str) -> int:
    """How many copies applied migrations on ``alias``."""
    return sum(f"[{alias}] done: applied" in out for _, out, _ in outputs)


def test_eight_copies_on_fresh_postgres_databases(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog", "flaky": "flaky"})
    outputs = finish_all([start(env=env) for _ in range(COPIES)])
    for code, out, err in outputs:
        assert code == 0, out + err
        assert "relation" not in out + err and "already exists" not in out + err
    for alias, dbname in db.items():
        rows = pg_rows(dbname)
        duplicates = [row for row, count in Counter(rows).items() if count > 1]
        assert duplicates == [], f"{alias}: {duplicates}"
        # Exactly one copy did the work on each alias; the others found it done.
        assert appliers(outputs, alias) == 1, alias
    assert names(pg_rows(db["catalog"]), "catalog") == CATALOG
    assert names(pg_rows(db["flaky"]), "flaky") == FLAKY
    assert len(names(pg_rows(db["default"]), "auth")) == 12
    # The data migration ran once.
    assert pg.execute("SELECT count(*) FROM flaky_marker", db["flaky"])[0][0] == 1


def test_copies_on_fresh_sqlite_files(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/default.db",
        "DATABASE_URL_CATALOG": f"sqlite:///{tmp_path}/catalog.db",
        "DATABASE_URL_FLAKY": f"sqlite:///{tmp_path}/flaky.db",
        "DB_ROUTE_CATALOG": "catalog",
        "DB_ROUTE_FLAKY": "flaky",
    }
    outputs = finish_all([start(env=env) for _ in range(4)])
    for code, out, err in outputs:
        assert code == 0, out + err
    for alias in ("default", "catalog", "flaky"):
        rows = sqlite_rows(tmp_path / f"{alias}.db")
        assert rows and len(rows) == len(set(rows)), alias
        assert appliers(outputs, alias) == 1, alias
    assert names(sqlite_rows(tmp_path / "flaky.db"), "flaky") == FLAKY
    assert sqlite_lock_path(tmp_path / "flaky.db").exists()


def test_lock_held_elsewhere_times_out_with_exit_3(postgres: PostgresDatabases) -> None:
    env, db = pg_env(postgres, {"default": None, "catalog": "catalog"})
    info = pg._conninfo(db["catalog"])
    with psycopg.connect(**info, autocommit=True) as holder:  # type: ignore[arg-type]
        holder.execute("SELECT pg_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
        result = migrate_all("--lock-timeout", "1", env=env)
        assert result.returncode == 3, result.stdout + result.stderr
        assert "[catalog] waiting for the PostgreSQL advisory lock" in result.stdout
        assert "[catalog] LOCK TIMEOUT after" in result.stdout
        assert "done: default" in result.stdout
        assert pg_rows(db["catalog"]) == []

        # A copy waiting for the lock goes on as soon as it is released.
        waiting = start("--lock-timeout", "60", env=env)
        line = ""
        assert waiting.stdout is not None
        while "waiting for the PostgreSQL advisory lock" not in line:
            line = waiting.stdout.readline()
            assert line, "the copy ended without waiting for the lock"
        holder.execute("SELECT pg_advisory_unlock(%s)", [POSTGRES_LOCK_KEY])
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, out + err
        assert "[catalog] done: applied 2 migrations" in out
    assert names(pg_rows(db["catalog"]), "catalog") == CATALOG


def test_sqlite_lock_held_elsewhere_times_out(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/default.db"}
    with FileLock(sqlite_lock_path(tmp_path / "default.db")) as lock:
        assert lock.acquire(0)
        result = migrate_all("--lock-timeout", "0.5", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[default] LOCK TIMEOUT" in result.stdout
    assert "default.db.migrate_all.lock" in result.stdout
    assert sqlite_rows(tmp_path / "default.db") == []
    assert migrate_all(env=env).returncode == 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_run_killed_midway_converges(postgres: PostgresDatabases) -> None:
    env, db = pg_env(
        postgres, {"default": None, "flaky": "flaky"}, RELEASE_PROJECT_SLEEP="60"
    )
    process = start("-v", "2", "--database", "flaky", env=env)
    assert process.stdout is not None
    line = ""
    while "applying flaky.0002_release_step" not in line:
        line = process.stdout.readline()
        assert line, "the run ended before the slow migration"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    # The killed migration left nothing half-done (it ran in a transaction).
    assert names(pg_rows(db["flaky"]), "flaky") == ["flaky.0001_initial"]

    env.pop("RELEASE_PROJECT_SLEEP")
    again = migrate_all(env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[flaky] done: applied 2 migrations" in again.stdout
    rows = pg_rows(db["flaky"])
    assert names(rows, "flaky") == FLAKY and len(rows) == len(set(rows))
    assert pg.execute("SELECT count(*) FROM flaky_marker", db["flaky"])[0][0] == 1
