"""Regression tests for problems found in the adversarial review of djcfg-env.

Each test failed before its fix. End to end where a user would be: ``python -m
djcfg_env`` and ``manage.py`` subprocesses of tests/review_project, on SQLite
files and real PostgreSQL databases, with the rows checked directly.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from djcfg_env import ConfigError, load
from tests.conftest import run
from tests.pg import PostgresDatabases
from tests.review_project.harness import SECRET_KEY, Review, postgres_review, sqlite_review

PASSWORD = "Rv7-NUL-distinctive-pw"


def assert_absent(done: object, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in done.stdout  # type: ignore[attr-defined]
        assert secret not in done.stderr  # type: ignore[attr-defined]


# -- a NUL character in a URL --------------------------------------------------------
# libpq ends the conninfo string at a NUL: everything after it (host, port) was
# silently dropped, and the connection went to the local unix socket instead.


@pytest.mark.parametrize(
    ("url", "part"),
    [
        (f"postgres://app:{PASSWORD}%00x@db.example.com:5432/main", "the password"),
        (f"postgres://app%00x:{PASSWORD}@db.example.com:5432/main", "the user name"),
        (f"postgres://app:{PASSWORD}@db.example.com:5432/ma%00in", "the database name"),
        (f"postgres://app:{PASSWORD}@db.example.com:5432/main?sslmode=require%00", "a query parameter"),
        (f"postgres://app:{PASSWORD}@db.example.com:5432/main\x00", "the URL"),
        ("sqlite:///data%00.db", "the database name"),
    ],
)
def test_nul_in_a_url_is_a_config_error(url: str, part: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load({"DATABASE_URL_BLOG_DB": url, "DATABASE_URL": "sqlite:///x.db", "SECRET_KEY": "k"})
    assert list(caught.value.problems) == ["DATABASE_URL_BLOG_DB"]
    assert str(caught.value).startswith(f"DATABASE_URL_BLOG_DB: has a NUL character (%00) in {part};")
    assert PASSWORD not in str(caught.value)


def test_nul_in_an_interpolated_password_fails_check_without_the_secret() -> None:
    done = run(
        ["python", "-m", "djcfg_env", "check"],
        env={
            "DATABASE_URL": "postgres://app:${DB_PASSWORD}@127.0.0.1:5432/main",
            "DB_PASSWORD": f"{PASSWORD}\x01".replace("\x01", "%00"),
            "SECRET_KEY": SECRET_KEY,
        },
    )
    # '%00' in the variable is encoded as '%2500' (a literal '%00'): a valid password.
    assert done.returncode == 0, done.stderr
    done = run(
        ["python", "-c", textwrap.dedent(
            """
            import os, sys
            from djcfg_env.__main__ import main
            env = dict(os.environ, DB_PASSWORD=os.environ['PW'] + chr(0) + 'tail')
            sys.exit(main(['check'], env))
            """
        )],
        env={
            "DATABASE_URL": "postgres://app:${DB_PASSWORD}@127.0.0.1:5432/main",
            "PW": PASSWORD,
            "SECRET_KEY": SECRET_KEY,
        },
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DATABASE_URL: has a NUL character (%00) in the password" in done.stderr
    assert_absent(done, PASSWORD, SECRET_KEY)


# -- the read-only guard: writes the SQL guard did not recognise ------------------------


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Review:
    review = sqlite_review(tmp_path)
    review.migrate()
    return review


@pytest.fixture
def postgres_project(postgres: PostgresDatabases) -> Iterator[Review]:
    review = postgres_review(postgres)
    review.migrate()
    yield review


RAW_WRITES = textwrap.dedent(
    """
    from django.db import connections
    from djcfg_env.readonly import ReadOnlyDatabaseError
    from django.db import DatabaseError
    for sql in STATEMENTS:
        try:
            with connections["replica"].cursor() as cursor:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()
        except ReadOnlyDatabaseError as error:
            print("REFUSED-BEFORE-SQL", repr(sql), "|", error)
        except DatabaseError as error:
            print("REFUSED-BY-DATABASE", repr(sql), "|", type(error).__name__)
        else:
            print("WRITTEN", repr(sql))
    from reports.models import Report
    print("READ", Report.objects.count(), Report.objects.exists(), sorted(Report.objects.in_bulk()))
    """
)


def _raw_writes(review: Review, statements: list[str]) -> list[str]:
    done = review.shell(f"STATEMENTS = {statements!r}\n" + RAW_WRITES)
    assert done.returncode == 0, done.stdout + done.stderr
    marks = ("REFUSED-", "WRITTEN ", "READ ")
    return [line for line in done.stdout.splitlines() if line.startswith(marks)]


def test_sqlite_read_only_alias_refuses_writes_behind_comments_ctes_and_pragmas(
    sqlite_project: Review,
) -> None:
    lines = _raw_writes(
        sqlite_project,
        [
            "-- nightly fix\nUPDATE reports_report SET total = 42",
            "/* a */ -- b\n  DELETE FROM reports_report",
            "WITH ids AS (SELECT id FROM reports_report) UPDATE reports_report SET total = 43",
            "VACUUM",
            "PRAGMA user_version = 7",
        ],
    )
    assert lines[0].startswith("REFUSED-BEFORE-SQL '-- nightly fix\\nUPDATE")
    assert "Refused to run an UPDATE statement for reports.Report on the database alias 'replica'" in lines[0]
    assert lines[1].startswith("REFUSED-BEFORE-SQL '/* a */ -- b")
    assert "run a DELETE statement for reports.Report" in lines[1]
    assert lines[2].startswith("REFUSED-BEFORE-SQL 'WITH ids")
    assert "run an UPDATE statement for reports.Report" in lines[2]
    assert lines[3].startswith("REFUSED-BEFORE-SQL 'VACUUM'")
    # Not recognisable as a write from its text: SQLite itself refuses it (query_only).
    assert lines[4].startswith("REFUSED-BY-DATABASE 'PRAGMA user_version = 7'")
    assert lines[5] == "READ 1 True [1]"
    assert sqlite_project.rows("replica", "SELECT name, total FROM reports_report") == [("a", 1)]
    assert sqlite_project.rows("replica", "PRAGMA user_version") == [(0,)]


def test_postgres_read_only_alias_refuses_commented_and_cte_writes_before_sql(
    postgres_project: Review,
) -> None:
    lines = _raw_writes(
        postgres_project,
        [
            "-- nightly fix\nUPDATE reports_report SET total = 42",
            "WITH gone AS (DELETE FROM reports_report RETURNING id) SELECT count(*) FROM gone",
            "WITH ids AS MATERIALIZED (SELECT id FROM reports_report) "
            "UPDATE reports_report SET total = 43 WHERE id IN (SELECT id FROM ids)",
            "WITH x AS (SELECT id FROM reports_report) SELECT id FROM x WHERE id IN (1)",
        ],
    )
    assert lines[0].startswith("REFUSED-BEFORE-SQL '-- nightly fix")
    assert lines[1].startswith("REFUSED-BEFORE-SQL 'WITH gone AS (DELETE")
    assert "run a DELETE statement for reports.Report" in lines[1]
    assert lines[2].startswith("REFUSED-BEFORE-SQL 'WITH ids AS MATERIALIZED")
    assert lines[3].startswith("WRITTEN 'WITH x AS (SELECT")  # a read: allowed
    assert lines[4] == "READ 1 True [1]"
    assert postgres_project.rows("replica", "SELECT name, total FROM reports_report") == [("a", 1)]


# -- migrate_all: SECRET_KEY in a failing migration's error -----------------------------


def test_migrate_all_scrubs_secret_key_from_a_failed_migration(tmp_path: Path) -> None:
    review = sqlite_review(tmp_path)
    done = review.manage("migrate_all", env={"REVIEW_EXTRA_APPS": "boom"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[default] FAILED after" in done.stdout
    assert "in boom.0001_initial: RuntimeError: could not sign with *** for" in done.stdout
    assert "  failed: default in boom.0001_initial" in done.stdout
    assert_absent(done, SECRET_KEY)


# -- an in-memory SQLite URL with parameters --------------------------------------------


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("sqlite://:memory:?read_only=true&conn_max_age=5", "django.db.backends.sqlite3"),
        ("spatialite://:memory:?read_only=true&conn_max_age=5", "django.contrib.gis.db.backends.spatialite"),
    ],
)
def test_in_memory_sqlite_url_takes_parameters(url: str, engine: str) -> None:
    # Was: "cannot be read as a URL; check the port ..." for a URL with no port at all.
    settings = load({"DATABASE_URL": "sqlite:///x.db", "DATABASE_URL_CACHE": url, "SECRET_KEY": "k"})
    cache = settings.DATABASES["cache"]
    assert (cache["ENGINE"], cache["NAME"], cache["CONN_MAX_AGE"]) == (engine, ":memory:", 5)
    assert settings.read_only_aliases == frozenset({"cache"})


# -- migrate_all --app for an app nothing in the run migrates -------------------------------


def test_migrate_all_app_on_a_read_only_alias_says_why_nothing_ran(sqlite_project: Review) -> None:
    done = sqlite_project.manage("migrate_all", "--app", "reports")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "--app reports: nothing to migrate: the app is routed to the read-only alias 'replica', "
        "and migrate_all never migrates a read-only alias"
    ) in done.stdout
    assert "[replica] skipped: read-only" in done.stdout

    left_out = sqlite_project.manage("migrate_all", "--app", "notes", "--database", "default")
    assert left_out.returncode == 0, left_out.stdout + left_out.stderr
    assert (
        "--app notes: nothing to migrate: the app is routed to 'notes_db', which this run does "
        "not include (see --database)"
    ) in left_out.stdout

    normal = sqlite_project.manage("migrate_all", "--app", "notes")
    assert normal.returncode == 0, normal.stdout + normal.stderr
    assert "--app notes:" not in normal.stdout
    assert "[notes_db] done: up to date" in normal.stdout
