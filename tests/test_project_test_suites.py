"""A user's own test suite, on every alias, read-only ones included (tests/testing_project).

The project has ``default`` (auth), ``notes_db`` (the notes app, ``test_name`` set),
``warehouse`` (read-only: the tests fill its table with ``allow_writes``) and
``replica`` (read-only, ``test_mirror=default``). Its tests, written as a user
writes them, run under ``manage.py test`` and ``pytest`` (with and without
``-n 2``) on SQLite and PostgreSQL, on the same variables it would deploy with;
afterwards no test database is left, also after a run whose setup fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import pg
from tests.conftest import ROOT, run

PROJECT = ROOT / "tests" / "testing_project"


@dataclass
class Project:
    engine: str
    env: dict[str, str]
    #: A string every test database of this project has in its name.
    stem: str
    where: Path

    def leftovers(self) -> list[str]:
        if self.engine == "postgresql":
            rows = pg.execute(f"SELECT datname FROM pg_database WHERE datname LIKE '%{self.stem}%'")
            return sorted(str(row[0]) for row in rows)
        return sorted(path.name for path in self.where.iterdir() if path.name.startswith("test"))

    def drop_kept(self) -> None:
        for name in self.leftovers():
            if self.engine == "postgresql":
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                (self.where / name).unlink()


def _env(engine: str, where: Path, stem: str) -> dict[str, str]:
    if engine == "postgresql":
        pg.require_postgres()
        base = pg.PostgresDatabases().url  # a URL builder; the runner makes the test databases
        urls = {
            "DATABASE_URL": base(f"{stem}_main"),
            "DATABASE_URL_NOTES_DB": base(f"{stem}_notes", f"test_name=test_{stem}_custom_notes"),
            "DATABASE_URL_WAREHOUSE": base(f"{stem}_warehouse", "read_only=true"),
            "DATABASE_URL_REPLICA": base(f"{stem}_main", "read_only=true&test_mirror=default"),
        }
        expected = f"test_{stem}_custom_notes"
    else:
        urls = {
            "DATABASE_URL": f"sqlite:///{where / 'main.sqlite3'}",
            "DATABASE_URL_NOTES_DB": f"sqlite:///{where / 'notes.sqlite3'}?test_name={where / 'test_custom_notes.sqlite3'}",
            "DATABASE_URL_WAREHOUSE": f"sqlite:///{where / 'warehouse.sqlite3'}?read_only=true",
            "DATABASE_URL_REPLICA": f"sqlite:///{where / 'main.sqlite3'}?read_only=true&test_mirror=default",
        }
        expected = "test_custom_notes"
    return {
        **urls,
        "DB_ROUTE_NOTES": "notes_db",
        "DB_ROUTE_REPORTS": "warehouse",
        "SECRET_KEY": "testing-project",
        "EXPECT_NOTES_TEST_NAME": expected,
        "PYTHONPATH": f"{ROOT / 'src'}:{PROJECT}",
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    stem = f"{pg.RUN_PREFIX}_{secrets.token_hex(3)}".lower()
    made = Project(request.param, _env(request.param, tmp_path, stem), stem, tmp_path)
    try:
        yield made
    finally:
        made.drop_kept()


def manage_test(project: Project, *args: str, env: dict[str, str] | None = None):
    return run(["python", "manage.py", "test", "--noinput", *args], env={**project.env, **(env or {})},
               cwd=PROJECT, timeout=300)


def pytest_run(project: Project, *args: str):
    return run(["python", "-m", "pytest", "-q", *args], env=project.env, cwd=PROJECT, timeout=300)


def test_manage_py_test_runs_the_suite_on_every_alias_also_in_parallel(project: Project) -> None:
    result = manage_test(project, "-v", "2", "--parallel", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Ran 4 tests" in output and "\nOK" in output
    # The read-only alias gets a test database, made without migrating anything there.
    assert "Creating test database for alias 'warehouse'" in output
    assert "(read-only: nothing is migrated there)" in output
    assert "Creating test database for alias 'replica'" not in output  # a mirror of default
    assert "Cloning test database for alias 'warehouse'" in output  # --parallel clones it too
    assert project.leftovers() == []


def test_pytest_with_xdist_runs_the_same_suite_per_worker(project: Project) -> None:
    workers = pytest_run(project, "-n", "2")
    assert workers.returncode == 0, workers.stdout + workers.stderr
    assert "8 passed" in workers.stdout  # the per-worker database test runs too
    assert project.leftovers() == []


def test_kept_test_databases_are_reused_for_every_alias_and_a_plain_run_leaves_none(project: Project) -> None:
    # pytest --reuse-db makes the test databases and keeps them ...
    first = pytest_run(project, "--reuse-db")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "7 passed, 1 skipped" in first.stdout
    kept = project.leftovers()
    assert len(kept) == (3 if project.engine == "postgresql" else 1)  # SQLite keeps notes' file
    # ... manage.py test --keepdb uses them, the read-only alias's included ...
    again = manage_test(project, "--keepdb")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Using existing test database for alias 'warehouse'" in again.stderr
    assert project.leftovers() == kept
    # ... and pytest alone (no --reuse-db) makes them afresh and leaves none behind.
    alone = pytest_run(project)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "7 passed, 1 skipped" in alone.stdout
    assert project.leftovers() == []


def test_a_setup_that_fails_leaves_no_test_database_behind(project: Project) -> None:
    result = manage_test(project, env={"FAIL_NOTES_MIGRATION": "1"})
    assert result.returncode != 0
    assert "this migration fails on purpose" in result.stderr
    # default was made and migrated before notes_db failed: both are dropped.
    assert project.leftovers() == []


@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_with_test_databases_off_django_cannot_make_the_read_only_aliass_test_database(project: Project) -> None:
    # Django's own behaviour: CREATE DATABASE in the read-only session, refused by PostgreSQL,
    # and the test databases made before it stay behind.
    result = manage_test(project, env={"PROJECT_DJCFG_ENV": '{"TEST_DATABASES": false}'})
    assert result.returncode != 0
    assert "cannot execute CREATE DATABASE in a read-only transaction" in result.stderr
    assert project.leftovers() != []  # dropped by the fixture
