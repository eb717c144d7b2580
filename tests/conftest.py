from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import pg, warm

if TYPE_CHECKING:
    from tests.seed_project.harness import InProcess, Seed

ROOT = Path(__file__).resolve().parent.parent
#: Variables a subprocess may inherit; everything djcfg-env reads is passed explicitly.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for a subprocess: no DATABASE_URL* leaks in from outside."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env["PYTHONPATH"] = str(ROOT / "src")
    env.update(extra or {})
    return env


def run(
    args: list[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
    timeout: float = 120, input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (``python`` means this interpreter) with a clean environment.

    A ``python ...`` command runs in a warm child (tests/warm.py) where that is the same as a
    fresh interpreter, by exec otherwise.
    """
    full_env = clean_env(env)
    if args and args[0] == "python":
        if warm.enabled() and warm.can_run(args[1:], full_env):
            return warm.run(args[1:], env=full_env, cwd=cwd or ROOT, timeout=timeout, input=input)
        args = [sys.executable, *args[1:]]
    return subprocess.run(
        args, env=full_env, cwd=cwd or ROOT, capture_output=True, text=True,
        timeout=timeout, check=False, input=input,
    )


def popen(
    args: list[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
    start_new_session: bool = False,
) -> subprocess.Popen[str]:
    """Start ``args`` (``python`` means this interpreter) with a clean environment; text stdout/stderr pipes."""
    full_env = clean_env(env)
    if args and args[0] == "python":
        if warm.enabled() and warm.can_run(args[1:], full_env):
            return warm.Popen(  # type: ignore[return-value]  # the same interface
                args[1:], env=full_env, cwd=cwd or ROOT, start_new_session=start_new_session
            )
        args = [sys.executable, *args[1:]]
    return subprocess.Popen(
        args, env=full_env, cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=start_new_session,
    )


@pytest.fixture
def postgres() -> Iterator[pg.PostgresDatabases]:
    """Real PostgreSQL databases made for this test and dropped after it."""
    pg.require_postgres()
    databases = pg.PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL databases this process kept for reuse (tests/pg.py)."""
    if pg.unavailable_reason() is None:
        pg.drop_pooled()


def pytest_report_header(config: pytest.Config) -> str:
    reason = pg.unavailable_reason()
    if reason is None:
        return f"postgres: {pg.ADMIN_URL.split('@')[-1]} (databases prefixed {pg.RUN_PREFIX})"
    required = " [required: DJCFG_REQUIRE_POSTGRES=1]" if pg.REQUIRED else ""
    return f"postgres: unavailable, PostgreSQL tests will skip: {reason}{required}"


# -- the seed project, end to end (tests/seed_project, tests/seed_project/harness.py) -------

#: The backends end-to-end seed tests run on: ``@pytest.mark.parametrize("seed", BACKENDS, indirect=True)``.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def seed_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Seed]]:
    """The one factory of seed databases: ``seed_project("sqlite" | "postgresql")`` -> a migrated Seed.

    Each backend's databases are made and migrated (``manage.py migrate --database``
    per writable alias, the analytics table by hand) once per session (per xdist
    worker), then shared by every end-to-end test: each test makes its own rows,
    under names of its own, and reads back only those. PostgreSQL databases are
    dropped when the session ends; without a server the test skips (or fails with
    DJCFG_REQUIRE_POSTGRES=1).
    """
    from tests.seed_project import harness

    made: dict[str, Seed] = {}
    databases = pg.PostgresDatabases()

    def make(backend: str) -> Seed:
        if backend not in made:
            if backend == "postgresql":
                pg.require_postgres()
                seed = harness.postgres_seed(databases)
            else:
                seed = harness.sqlite_seed(tmp_path_factory.mktemp("seed"))
            seed.migrate()
            made[backend] = seed
        return made[backend]

    try:
        yield make
    finally:
        databases.drop_all()


@pytest.fixture
def seed(request: pytest.FixtureRequest, seed_project: Callable[[str], Seed]) -> Seed:
    """The shared, migrated seed project on the backend the test is parametrised with (default SQLite)."""
    return seed_project(getattr(request, "param", "sqlite"))


# -- in process: tests/settings.py, the seed layout on in-memory SQLite -------------------

#: The seed layout's aliases, for ``pytest.mark.django_db(databases=SEED_DATABASES)``
#: (tests/settings.py also has ``replica``, a read-only mirror of ``default``).
SEED_DATABASES = ("default", "blog_db", "shop_db", "analytics")


def read_only_guard_off() -> Any:
    """``override_settings`` with the read-only guard switched off: to fill a read-only alias.

    Used as ``with read_only_guard_off(): ...``; the guard (ORM, SQL guard and SQLite's
    ``PRAGMA query_only``) is back when the block ends.
    """
    from django.test import override_settings

    return override_settings(DJCFG_ENV={"READ_ONLY_GUARD": False})


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's test databases, made with the read-only guard off; the analytics table.

    Django's test setup migrates every alias it makes a database for, the read-only
    ``analytics`` too, and ``migrate`` creates ``django_migrations`` there, which the
    guard refuses (``MigrationSchemaMissing: Unable to create the django_migrations
    table (Refused to run a CREATE statement for django_migrations on the database
    alias 'analytics' ...)``). So the databases are made with the guard switched off,
    and so is ``analytics_pageview``, the unmanaged table another system would make.
    Every test runs with the guard on.
    """
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django import fixtures

    from tests.seed_project.harness import ANALYTICS_TABLE

    if not django_db_use_migrations:
        fixtures._disable_migrations()
    options: dict[str, Any] = {"keepdb": django_db_keepdb and not django_db_createdb}
    if hasattr(fixtures, "_get_databases_for_setup"):  # pytest-django 4.8+: only the aliases tests use
        options["aliases"], options["serialized_aliases"] = fixtures._get_databases_for_setup(
            request.session.items
        )
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock(), read_only_guard_off():
        config = setup_databases(verbosity=verbosity, interactive=False, **options)
        if options.get("aliases") is None or "analytics" in options["aliases"]:
            analytics = connections["analytics"]
            if "analytics_pageview" not in analytics.introspection.table_names():
                with analytics.cursor() as cursor:
                    cursor.execute(ANALYTICS_TABLE["sqlite"])
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock(), read_only_guard_off():
            teardown_databases(config, verbosity=verbosity)


@pytest.fixture
def sql() -> InProcess:
    """SQL on each alias's own connection, for reading back what an in-process test wrote where."""
    from tests.seed_project.harness import InProcess

    return InProcess()


# -- MySQL/MariaDB (tests/mysql.py) ---------------------------------------------------------
from tests import mysql  # noqa: E402


@pytest.fixture
def mariadb() -> Iterator[mysql.MySQLDatabases]:
    """Real MySQL/MariaDB databases made for this test and dropped after it."""
    mysql.require_mysql()
    databases = mysql.MySQLDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.hookimpl(specname="pytest_report_header")
def pytest_report_header_mysql(config: pytest.Config) -> str:
    reason = mysql.unavailable_reason()
    if reason is None:
        where = mysql.ADMIN_URL.split("@")[-1]
        return f"mysql: {where}, {mysql.server_version()} (databases prefixed {pg.RUN_PREFIX})"
    required = " [required: DJCFG_REQUIRE_MYSQL=1]" if mysql.REQUIRED else ""
    return f"mysql: unavailable, MySQL/MariaDB tests will skip: {reason}{required}"
