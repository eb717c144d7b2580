"""Read-only means read-only: the SQL guard lets through reads only, on every engine.

The guard (``djcfg_env.orm.readonly``'s execute wrapper, ``executescript`` and
``callproc``) asks :mod:`djcfg_env.orm.statements` about every statement sent
through a read-only alias. First the classifier itself, in process, over many
statements and every dialect reading; then end to end, through Django's cursor
on a real read-only alias as a user's code sends them: SQLite in process
(tests/settings.py), PostgreSQL and MariaDB through ``manage.py shell`` of the
seed project. Each end-to-end test checks that the refused statements reached
nothing (the table read back directly is unchanged) and that the session is
still read-only afterwards, below Django.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from analytics.models import PageView
from django.db import connections, transaction

from djcfg_env import ReadOnlyDatabaseError
from djcfg_env.orm.statements import refusal, writes
from tests import mysql
from tests.conftest import SEED_DATABASES, read_only_guard_off
from tests.seed_project.harness import InProcess, Seed, sqlite_seed

#: A literal that must never appear in a refusal (it could have been a password).
SECRET = "s3cret-value"
#: The model the seed's analytics table belongs to, as refusals name it.
PAGEVIEW = "analytics.PageView"

# -- the classifier, in process --------------------------------------------------------------

#: statement -> the refusal's operation (and table), read by every dialect (vendor None).
REFUSED: dict[str, tuple[str, str | None]] = {
    # the session's read-only state (PostgreSQL, MySQL/MariaDB, SQLite)
    "SET TRANSACTION READ WRITE": ("run a SET TRANSACTION READ WRITE statement", None),
    "set transaction isolation level serializable, read write": (
        "run a SET TRANSACTION READ WRITE statement",
        None,
    ),
    "BEGIN READ WRITE": ("run a BEGIN ... READ WRITE statement", None),
    "BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE": ("run a BEGIN ... READ WRITE statement", None),
    "START TRANSACTION READ WRITE": ("run a START ... READ WRITE statement", None),
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE": (
        "run a SET TRANSACTION READ WRITE statement",
        None,
    ),
    "SET SESSION TRANSACTION READ WRITE": ("run a SET TRANSACTION READ WRITE statement", None),
    "SET default_transaction_read_only = off": ("run a SET default_transaction_read_only statement", None),
    "SET default_transaction_read_only TO DEFAULT": (
        "run a SET default_transaction_read_only statement",
        None,
    ),
    "SET LOCAL transaction_read_only = off": ("run a SET transaction_read_only statement", None),
    "SET SESSION transaction_read_only = 0": ("run a SET transaction_read_only statement", None),
    'SET "default_transaction_read_only" = off': ("run a SET default_transaction_read_only statement", None),
    "SET @@session.tx_read_only = 0": ("run a SET tx_read_only statement", None),
    "SET @a = 1, @@tx_read_only := 0": ("run a SET tx_read_only statement", None),
    "SET GLOBAL read_only = 0": ("run a SET GLOBAL statement", None),
    "SET ROLE admin": ("run a SET role statement", None),
    "SET SESSION AUTHORIZATION admin": ("run a SET authorization statement", None),
    "SET STATEMENT max_statement_time = 1 FOR SELECT 1": ("run a SET STATEMENT statement", None),
    "RESET default_transaction_read_only": ("run a RESET default_transaction_read_only statement", None),
    "RESET ALL": ("run a RESET ALL statement", None),
    "RESET QUERY CACHE": ("run a RESET QUERY statement", None),
    "SELECT set_config('default_transaction_read_only', 'off', false)": ("call set_config()", None),
    "PRAGMA query_only = OFF": ("run a PRAGMA query_only statement", None),
    "PRAGMA query_only(0)": ("run a PRAGMA query_only statement", None),
    "pragma main.query_only = false": ("run a PRAGMA query_only statement", None),
    "PRAGMA writable_schema = ON": ("run a PRAGMA writable_schema statement", None),
    "PRAGMA user_version = 7": ("run a PRAGMA user_version statement", None),
    "PRAGMA optimize": ("run a PRAGMA optimize statement", None),
    "BEGIN IMMEDIATE": ("run a BEGIN IMMEDIATE statement", None),
    "BEGIN EXCLUSIVE TRANSACTION": ("run a BEGIN EXCLUSIVE statement", None),
    # writes behind comments, in several statements, in executable comments
    "/* note */ INSERT INTO t VALUES (1)": ("run an INSERT statement", "t"),
    "-- a\n/* b /* c */ */ -- d\n  DELETE FROM t": ("run a DELETE statement", "t"),
    "/*!INSERT INTO t VALUES (1)*/": ("run an INSERT statement", "t"),
    "/*!50001 DELETE FROM t */": ("run a DELETE statement", "t"),
    "/*M!100100 UPDATE t SET a = 1 */": ("run an UPDATE statement", "t"),
    "SELECT 1 /*! ; DELETE FROM t */": ("run a DELETE statement", "t"),
    "SELECT 1; DELETE FROM t": ("run a DELETE statement", "t"),
    "SELECT 'a;b'; DROP TABLE t": ("run a DROP statement", "t"),
    'SELECT "x;"; TRUNCATE t': ("run a TRUNCATE statement", "t"),
    # what a dialect reads differently cannot hide a write (refused if any reading finds one)
    "SELECT 'a\\'; DELETE FROM t; -- '": ("run a DELETE statement", "t"),
    "SELECT 1 # '\n; DELETE FROM t; -- '": ("run a DELETE statement", "t"),
    "SELECT 1 --1; DELETE FROM t": ("run a DELETE statement", "t"),
    "SELECT /* /* */ 1; DELETE FROM t; -- */ 1": ("run a DELETE statement", "t"),
    "SELECT E'\\''; DELETE FROM t; --'": ("run a DELETE statement", "t"),
    "SELECT 'unterminated": ("run a statement whose quotes or comments do not close", None),
    "SELECT 1 /* unterminated": ("run a statement whose quotes or comments do not close", None),
    "SELECT $a$ unterminated": ("run a statement whose quotes or comments do not close", None),
    # writes inside reads
    "SELECT a INTO newtable FROM t": ("run a SELECT ... INTO statement", "newtable"),
    "SELECT a FROM t INTO OUTFILE '/tmp/x'": ("run a SELECT ... INTO statement", None),
    "WITH d AS (DELETE FROM t RETURNING id) SELECT * FROM d": ("run a DELETE statement", "t"),
    "WITH x AS (SELECT 1) UPDATE t SET a = 1": ("run an UPDATE statement", "t"),
    "WITH x AS NOT MATERIALIZED (SELECT 1) INSERT INTO t SELECT * FROM x": ("run an INSERT statement", "t"),
    "(SELECT 1) UNION (SELECT a FROM t FOR UPDATE)": ("lock rows with SELECT ... FOR UPDATE", "t"),
    "EXPLAIN ANALYZE DELETE FROM t": ("run a DELETE statement", "t"),
    "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1": ("run an UPDATE statement", "t"),
    "EXPLAIN ANALYZE EXECUTE p": ("run an EXECUTE statement", None),
    "EXPLAIN ANALYZE SELECT nextval('s')": ("call nextval()", None),
    # row locks
    "SELECT a FROM t FOR UPDATE": ("lock rows with SELECT ... FOR UPDATE", "t"),
    "SELECT a FROM t FOR NO KEY UPDATE NOWAIT": ("lock rows with SELECT ... FOR UPDATE", "t"),
    "SELECT a FROM t FOR KEY SHARE": ("lock rows with SELECT ... FOR UPDATE", "t"),
    "SELECT a FROM t LOCK IN SHARE MODE": ("lock rows with SELECT ... LOCK IN SHARE MODE", "t"),
    "DECLARE c CURSOR FOR SELECT a FROM t FOR UPDATE": ("lock rows with SELECT ... FOR UPDATE", "t"),
    # functions that change something
    "SELECT nextval('s')": ("call nextval()", None),
    "SELECT setval('s', 1)": ("call setval()", None),
    "SELECT NEXTVAL(s)": ("call nextval()", None),
    "SELECT NEXT VALUE FOR s": ("take the NEXT VALUE of a sequence", None),
    "SELECT pg_advisory_lock(1)": ("call pg_advisory_lock()", None),
    "SELECT pg_try_advisory_xact_lock_shared(1)": ("call pg_try_advisory_xact_lock_shared()", None),
    "SELECT GET_LOCK('x', 0)": ("call get_lock()", None),
    "SELECT pg_notify('c', 'x')": ("call pg_notify()", None),
    "SELECT lo_import('/etc/passwd')": ("call lo_import()", None),
    "SELECT * FROM dblink_exec('dbname=x', 'DELETE FROM t')": ("call dblink_exec()", None),
    "SELECT query_to_xml('SELECT 1', true, true, '')": ("call query_to_xml()", None),
    "SELECT load_extension('x')": ("call load_extension()", None),
    "SET @x = nextval('s')": ("call nextval()", None),
    "SELECT \"set_config\"('default_transaction_read_only', 'off', false)": ("call set_config()", None),
    "SELECT pg_catalog.\"nextval\"('s')": ("call nextval()", None),
    "SELECT `GET_LOCK`('x', 0)": ("call get_lock()", None),
    "SELECT U&\"\\0073et_config\"('default_transaction_read_only', 'off', false)": (
        "call a function named with Unicode escapes",
        None,
    ),
    # statements that are not reads, whatever they hold
    "INSERT INTO t VALUES (1)": ("run an INSERT statement", "t"),
    "REPLACE INTO t (a) VALUES (1)": ("run a REPLACE statement", "t"),
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE": ("run a MERGE statement", "t"),
    "CREATE TABLE IF NOT EXISTS t (a int)": ("run a CREATE statement", "t"),
    "CREATE TEMP TABLE t AS SELECT 1": ("run a CREATE statement", "t"),
    "ALTER TABLE t ADD b int": ("run an ALTER statement", "t"),
    "DROP TABLE IF EXISTS t": ("run a DROP statement", "t"),
    "TRUNCATE TABLE t": ("run a TRUNCATE statement", "t"),
    "COPY t FROM STDIN": ("run a COPY ... FROM statement", None),
    "COPY t TO '/tmp/x'": ("run a COPY statement", None),
    "COPY (SELECT 1) TO PROGRAM 'rm -rf /'": ("run a COPY statement", None),
    "DO $$ BEGIN DELETE FROM t; END $$": ("run a DO statement", None),
    "DO GET_LOCK('x', 0)": ("run a DO statement", None),
    "CALL proc()": ("run a CALL statement", None),
    "LOAD 'plpgsql'": ("run a LOAD statement", None),
    "LOAD DATA INFILE '/tmp/x' INTO TABLE t": ("run a LOAD statement", "t"),
    "PREPARE p AS SELECT 1": ("run a PREPARE statement", None),
    "PREPARE p FROM 'DELETE FROM t'": ("run a PREPARE statement", None),
    "EXECUTE p": ("run an EXECUTE statement", None),
    "NOTIFY c": ("run a NOTIFY statement", None),
    "HANDLER t OPEN": ("run a HANDLER statement", None),
    "LOCK TABLE t IN ACCESS EXCLUSIVE MODE": ("run a LOCK statement", "t"),
    "LOCK TABLES t READ": ("run a LOCK statement", None),
    "ATTACH DATABASE 'x.db' AS x": ("run an ATTACH statement", None),
    "DETACH DATABASE x": ("run a DETACH statement", None),
    "VACUUM": ("run a VACUUM statement", None),
    "VACUUM INTO '/tmp/copy.db'": ("run a VACUUM statement", None),
    "ANALYZE t": ("run an ANALYZE statement", None),
    "REINDEX t": ("run a REINDEX statement", None),
    "GRANT SELECT ON t TO x": ("run a GRANT statement", "t"),
    "COMMENT ON TABLE t IS 'x'": ("run a COMMENT statement", "t"),
    "USE other": ("run a USE statement", None),
    "DISCARD ALL": ("run a DISCARD statement", None),
    "BEGIN NOT ATOMIC INSERT INTO t VALUES (1); END": ("run a BEGIN statement", None),
    "COMMIT PREPARED 'x'": ("run a COMMIT statement", None),
    "'just a string'": ("run an unrecognised statement", None),
}

#: Reads and transaction control a read-only alias runs, on every engine's reading.
ALLOWED = [
    "SELECT 'waiting for update'",
    "SELECT 'INSERT INTO t; DELETE FROM t'",
    "SELECT a FROM t WHERE b = 'for update' AND c = 'lock in share mode'",
    'SELECT "update", "into", "delete" FROM "t"',
    "SELECT `insert` FROM `t`",
    "select a -- INSERT INTO t\nfrom t",
    "SELECT a /* DELETE FROM t */ FROM t",
    'SELECT "t"."id", "t"."path" FROM "t" WHERE "t"."id" = %s LIMIT 21',
    "SELECT a FROM t WHERE b = %(name)s",
    "SELECT count(*) FROM (SELECT a FROM t) AS sub",
    "(SELECT a FROM t) UNION ALL (SELECT a FROM u)",
    "SELECT replace(a, 'x', 'y'), insert(a, 1, 1, 'z') FROM t",
    "SELECT currval('s'), lastval()",
    "WITH x AS (SELECT id FROM t) SELECT id FROM x",
    "WITH RECURSIVE r(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
    "VALUES (1, 2)",
    "TABLE t",
    "SHOW default_transaction_read_only",
    "SHOW VARIABLES LIKE 'tx_read_only'",
    "EXPLAIN SELECT * FROM t",
    "EXPLAIN QUERY PLAN SELECT * FROM t",
    "EXPLAIN (FORMAT JSON) SELECT * FROM t",
    "DESCRIBE t",
    "BEGIN",
    "BEGIN DEFERRED TRANSACTION",
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "START TRANSACTION READ ONLY",
    "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    "COMMIT",
    "COMMIT AND NO CHAIN",
    "END",
    "ROLLBACK",
    "ROLLBACK WORK",
    'SAVEPOINT "s140172_x1"',
    "SAVEPOINT `s1`",
    'RELEASE SAVEPOINT "s140172_x1"',
    "RELEASE s1",
    'ROLLBACK TO SAVEPOINT "s140172_x1"',
    "ROLLBACK WORK TO SAVEPOINT `s1`",
    "SET TRANSACTION READ ONLY",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SET statement_timeout = '5s'",
    "SET search_path TO public, other",
    "SET TIME ZONE 'UTC'",
    "SET NAMES utf8mb4",
    "SET @x = 1",
    "SET SESSION max_execution_time = 1000",
    "RESET statement_timeout",
    "PRAGMA query_only",
    "PRAGMA writable_schema",
    "PRAGMA main.table_info(t)",
    'PRAGMA table_info("t")',
    "PRAGMA foreign_key_check",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA foreign_keys(1)",
    "PRAGMA busy_timeout = 5000",
    "LISTEN c",
    "UNLISTEN *",
    "DECLARE c CURSOR FOR SELECT a FROM t",
    "FETCH 10 FROM c",
    "CLOSE c",
    "DEALLOCATE p",
    "COPY t TO STDOUT",
    "COPY (SELECT a FROM t) TO STDOUT WITH (FORMAT csv)",
    "SELECT 1;",
    "SELECT 1; SELECT 2",
]

#: Reads only one engine's reading lets through (the others read a write into them).
ALLOWED_ON = {
    "postgresql": ["SELECT $$ DELETE FROM t $$", "SELECT $x$ ; DELETE FROM t; $x$"],
    "sqlite": ["SELECT [it's] FROM t", "SELECT 1 /*! ; DELETE FROM t */"],
    "mysql": ["SELECT 1 # ; DELETE FROM t"],
}


@pytest.mark.parametrize("sql", list(REFUSED))
def test_the_classifier_refuses_what_is_not_a_read(sql: str) -> None:
    found = refusal(sql)
    assert found is not None, sql
    assert (found.operation, found.table) == REFUSED[sql]
    assert writes(sql) == found.operation


@pytest.mark.parametrize("vendor", [None, "postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize("sql", ALLOWED)
def test_the_classifier_lets_reads_and_transaction_control_through(sql: str, vendor: str | None) -> None:
    assert refusal(sql, vendor) is None


@pytest.mark.parametrize(("vendor", "sql"), [(v, sql) for v, reads in ALLOWED_ON.items() for sql in reads])
def test_a_read_one_engine_reads_safely_is_judged_by_that_engines_rules(vendor: str, sql: str) -> None:
    assert refusal(sql, vendor) is None
    assert refusal(sql) is not None  # an unknown engine could read a write into it


@pytest.mark.parametrize("vendor", [None, "postgresql", "mysql", "sqlite"])
def test_a_refusal_never_shows_a_literal(vendor: str | None) -> None:
    for template in (
        "INSERT INTO t VALUES ('{0}')",
        "SELECT set_config('{0}', 'x', false)",
        "SET @x = '{0}'; DELETE FROM t",
        "PRAGMA {1} = '{0}'",
        "SELECT a INTO '{0}' FROM t",
        "SELECT '{0}' FROM t FOR UPDATE",
        "'{0}'",
        '"{0}" DELETE',
        "COPY t FROM '{0}'",
        "SELECT '{0}",
    ):
        sql = template.format(SECRET, "user_version")
        found = refusal(sql, vendor)
        assert found is not None, sql
        assert SECRET not in found.operation and SECRET not in str(found.table), sql


@pytest.mark.parametrize("sql", list(REFUSED))
def test_the_fast_path_never_lets_a_refused_statement_through(sql: str) -> None:
    from djcfg_env.orm.statements import _plain_select

    assert not _plain_select(sql)


@pytest.mark.django_db(databases=SEED_DATABASES)
def test_the_selects_django_compiles_take_the_fast_path() -> None:
    from django.db.models import Count

    from djcfg_env.orm.statements import _plain_select

    querysets = [
        PageView.objects.filter(pk=1, path="a"),
        PageView.objects.values("path").annotate(n=Count("id")).order_by("-n")[:5],
        PageView.objects.filter(user_id__in=[1, 2]).exclude(path="x").order_by("id"),
        PageView.objects.filter(path__in=["update", "insert"]).only("id"),
    ]
    # (a LIKE with Django's ESCAPE '\\' literal takes the lexer's path, and is a read there too)
    like, _ = PageView.objects.filter(path__startswith="a").query.get_compiler("analytics").as_sql()
    assert not _plain_select(like) and refusal(like, "sqlite") is None
    for queryset in querysets:
        sql, _params = queryset.query.get_compiler("analytics").as_sql()
        assert _plain_select(sql), sql
        assert refusal(sql, "sqlite") is None


# -- SQLite, in process (tests/settings.py: analytics is sqlite://:memory:?read_only=true) -----

in_process = pytest.mark.django_db(databases=SEED_DATABASES)

#: statement -> (operation, model): what the SQLite read-only alias refuses before sending.
SQLITE_REFUSED: dict[str, tuple[str, str | None]] = {
    "PRAGMA query_only = OFF": ("run a PRAGMA query_only statement", None),
    "PRAGMA query_only(0)": ("run a PRAGMA query_only statement", None),
    "PRAGMA writable_schema = ON": ("run a PRAGMA writable_schema statement", None),
    "ATTACH DATABASE ':memory:' AS other": ("run an ATTACH statement", None),
    "VACUUM": ("run a VACUUM statement", None),
    "BEGIN IMMEDIATE": ("run a BEGIN IMMEDIATE statement", None),
    "/* nightly */ -- fix\nINSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "REPLACE INTO analytics_pageview (id, path) VALUES (1, 's3cret-value')": (
        "run a REPLACE statement for",
        PAGEVIEW,
    ),
    "WITH x AS (SELECT 1) INSERT INTO analytics_pageview (path) SELECT 's3cret-value' FROM x": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "CREATE TEMP TABLE scratch (a)": ("run a CREATE statement for", "scratch"),
    "SELECT load_extension('x')": ("call load_extension()", None),
}


def fill(sql: InProcess) -> None:
    with read_only_guard_off():
        sql.execute("analytics", "INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')")


@in_process
def test_sqlite_refuses_every_hole_before_sending_it_and_stays_query_only(sql: InProcess) -> None:
    fill(sql)
    connection = connections["analytics"]
    for statement, expected in SQLITE_REFUSED.items():
        with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError) as raised:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        assert (raised.value.operation, raised.value.model, raised.value.alias) == (*expected, "analytics")
        assert SECRET not in str(raised.value)
        assert sent == [], statement
    # executemany goes through the same guard.
    with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError, match="run an INSERT statement"):
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO analytics_pageview (path) VALUES (%s)", [("a",), ("b",)])
    assert sent == []
    # Reads that mention writing words in literals, quoted names or comments are reads.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'waiting for update', path FROM analytics_pageview -- DELETE")
        assert cursor.fetchall() == [("waiting for update", "seed")]
        cursor.execute("PRAGMA table_info(analytics_pageview)")
        assert [row[1] for row in cursor.fetchall()] == ["id", "path", "user_id"]
        cursor.execute("EXPLAIN QUERY PLAN SELECT * FROM analytics_pageview")
        cursor.execute("PRAGMA query_only")
        assert cursor.fetchone() == (1,)
    assert sql.rows("analytics", "SELECT id, path FROM analytics_pageview") == [(1, "seed")]


@in_process
def test_sqlite_executescript_cannot_write_or_turn_query_only_off(sql: InProcess) -> None:
    fill(sql)
    connection = connections["analytics"]
    script = "PRAGMA query_only = OFF; INSERT INTO analytics_pageview (path) VALUES ('script');"
    with pytest.raises(ReadOnlyDatabaseError) as raised, connection.cursor() as cursor:
        cursor.executescript(script)
    assert raised.value.operation == "run a PRAGMA query_only statement"
    # Below Django (the raw sqlite3 connection): SQLite refuses to lift query_only (the guard's
    # authorizer), and so refuses the write.
    driver = connection.connection
    for lift in ("PRAGMA query_only = OFF", "PRAGMA query_only = 0", "PRAGMA main.query_only(false)"):
        with pytest.raises(sqlite3.DatabaseError, match="^not authorized$"):
            driver.execute(lift)
    with pytest.raises(sqlite3.DatabaseError, match="^not authorized$"):
        driver.execute("ATTACH DATABASE ':memory:' AS other")
    assert driver.execute("PRAGMA query_only").fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError, match="^attempt to write a readonly database$"):
        driver.execute("INSERT INTO analytics_pageview (path) VALUES ('raw')")
    assert sql.rows("analytics", "SELECT id, path FROM analytics_pageview") == [(1, "seed")]


def test_sqlite_executescript_through_manage_py_shell(seed_project: Callable[[str], Seed]) -> None:
    seed = seed_project("sqlite")
    seed.execute("analytics", "INSERT INTO analytics_pageview (path) VALUES ('script-probe')")
    try:
        out = seed.shell(
            """
            from django.db import connections
            out = {}
            script = "PRAGMA query_only = OFF; DELETE FROM analytics_pageview;"
            try:
                connections["analytics"].cursor().executescript(script)
            except Exception as error:
                out["guarded"] = [type(error).__name__, error.operation]
            try:
                connections["analytics"].connection.executescript(script)
            except Exception as error:
                out["driver"] = str(error)
            with connections["default"].cursor() as cursor:  # a writable alias: Django's own behaviour
                cursor.executescript("CREATE TABLE script_probe (a); INSERT INTO script_probe VALUES (7);")
            result(out)
            """
        )
        assert out == {
            "guarded": ["ReadOnlyDatabaseError", "run a PRAGMA query_only statement"],
            "driver": "not authorized",
        }
        assert seed.rows("analytics", "SELECT path FROM analytics_pageview WHERE path = 'script-probe'") == [
            ("script-probe",)
        ]
        assert seed.rows("default", "SELECT a FROM script_probe") == [(7,)]
    finally:
        seed.execute("analytics", "DELETE FROM analytics_pageview WHERE path = 'script-probe'")
        seed.execute("default", "DROP TABLE IF EXISTS script_probe")


@in_process
def test_savepoints_and_transactions_django_sends_still_work_on_a_read_only_alias(sql: InProcess) -> None:
    fill(sql)
    with sql.queries(["analytics"]) as queries:
        with transaction.atomic(using="analytics"):
            assert PageView.objects.count() == 1
            with transaction.atomic(using="analytics"):  # SAVEPOINT ... RELEASE SAVEPOINT
                assert list(PageView.objects.values_list("path", flat=True)) == ["seed"]
            try:
                with transaction.atomic(using="analytics"):  # ... ROLLBACK TO SAVEPOINT
                    PageView.objects.get(pk=99)
            except PageView.DoesNotExist:
                pass
            assert list(PageView.objects.select_for_update()) == [PageView.objects.get(pk=1)]
    sent = " ".join(queries["analytics"])
    assert "SAVEPOINT" in sent and "RELEASE SAVEPOINT" in sent and "ROLLBACK TO SAVEPOINT" in sent


@in_process
def test_allow_writes_still_lifts_every_sqlite_guard(sql: InProcess) -> None:
    from djcfg_env import allow_writes

    fill(sql)
    connection = connections["analytics"]
    with allow_writes("analytics"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO analytics_pageview (id, path) VALUES (2, 'lifted')")
        cursor.execute("PRAGMA query_only")
        assert cursor.fetchone() == (0,)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only")
        assert cursor.fetchone() == (1,)
    assert sql.rows("analytics", "SELECT id, path FROM analytics_pageview ORDER BY id") == [
        (1, "seed"),
        (2, "lifted"),
    ]


# -- PostgreSQL and MariaDB, end to end through manage.py shell ------------------------------

#: Runs every attempt on the analytics alias's Django cursor; reports each outcome.
RUNNER = """
from django.db import connections, transaction
from djcfg_env import ReadOnlyDatabaseError

connection = connections["analytics"]

def attempt(statement):
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            rows = [list(row) for row in cursor.fetchall()] if cursor.description else None
        return {"error": None, "rows": rows}
    except Exception as error:
        if connection.vendor == "postgresql" and connection.connection is not None:
            connection.connection.rollback()
        return {"error": type(error).__name__, "message": str(error),
                "operation": getattr(error, "operation", None), "model": getattr(error, "model", None)}
"""

#: statement -> the operation ReadOnlyDatabaseError names (and the model, where a table is named).
POSTGRES_REFUSED: dict[str, tuple[str, str | None]] = {
    "SET TRANSACTION READ WRITE": ("run a SET TRANSACTION READ WRITE statement", None),
    "BEGIN READ WRITE": ("run a BEGIN ... READ WRITE statement", None),
    "START TRANSACTION READ WRITE": ("run a START ... READ WRITE statement", None),
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE": (
        "run a SET TRANSACTION READ WRITE statement",
        None,
    ),
    "SET default_transaction_read_only = off": ("run a SET default_transaction_read_only statement", None),
    "SET SESSION transaction_read_only TO off": ("run a SET transaction_read_only statement", None),
    "RESET default_transaction_read_only": ("run a RESET default_transaction_read_only statement", None),
    "RESET ALL": ("run a RESET ALL statement", None),
    "SELECT set_config('default_transaction_read_only', 'off', false)": ("call set_config()", None),
    "SELECT pg_catalog.\"set_config\"('default_transaction_read_only', 'off', false)": (
        "call set_config()",
        None,
    ),
    "/* nightly */ -- fix\nINSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "SELECT 1; INSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "SELECT 'it''s; fine'; DELETE FROM analytics_pageview": ("run a DELETE statement for", PAGEVIEW),
    "SELECT $x$ ; $x$; DELETE FROM analytics_pageview": ("run a DELETE statement for", PAGEVIEW),
    "SELECT id, path INTO pageview_copy FROM analytics_pageview": (
        "run a SELECT ... INTO statement for",
        "pageview_copy",
    ),
    "COPY analytics_pageview FROM STDIN": ("run a COPY ... FROM statement", None),
    "DO $$ BEGIN PERFORM set_config('default_transaction_read_only', 'off', false); END $$": (
        "run a DO statement",
        None,
    ),
    "SELECT nextval('analytics_pageview_id_seq')": ("call nextval()", None),
    "SELECT setval('analytics_pageview_id_seq', 100)": ("call setval()", None),
    "SELECT pg_advisory_lock(42)": ("call pg_advisory_lock()", None),
    "EXPLAIN ANALYZE INSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "WITH gone AS (DELETE FROM analytics_pageview RETURNING id) SELECT count(*) FROM gone": (
        "run a DELETE statement for",
        PAGEVIEW,
    ),
    "NOTIFY analytics": ("run a NOTIFY statement", None),
    "PREPARE sneaky AS INSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run a PREPARE statement for",
        PAGEVIEW,
    ),
    "EXECUTE sneaky": ("run an EXECUTE statement", None),
    "LOAD 'plpgsql'": ("run a LOAD statement", None),
    "CREATE TEMP TABLE scratch (a int)": ("run a CREATE statement for", "scratch"),
    "LOCK TABLE analytics_pageview": ("run a LOCK statement for", PAGEVIEW),
    "SELECT id FROM analytics_pageview FOR UPDATE": ("lock rows with SELECT ... FOR UPDATE of", PAGEVIEW),
}
POSTGRES_ALLOWED = {
    "SELECT 'waiting for update'": [["waiting for update"]],
    "SELECT path FROM analytics_pageview WHERE path <> 'INSERT INTO x; DELETE FROM y'": [["seed"]],
    "SELECT $$ DELETE FROM analytics_pageview $$": [[" DELETE FROM analytics_pageview "]],
    "WITH x AS (SELECT id FROM analytics_pageview) SELECT count(*) FROM x": [[1]],
    "TABLE analytics_pageview": [[1, "seed", None]],
    "SET statement_timeout = '5s'": None,
    "RESET statement_timeout": None,
    "LISTEN analytics": None,
    "UNLISTEN analytics": None,
    "SHOW default_transaction_read_only": [["on"]],
}


@pytest.fixture(scope="module")
def postgres_seed(seed_project: Callable[[str], Seed]) -> Iterator[Seed]:
    """The shared PostgreSQL seed project, with the analytics row ``(1, 'seed')``."""
    seed = seed_project("postgresql")
    seed.execute("analytics", "INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')")
    try:
        yield seed
    finally:
        seed.execute("analytics", "DELETE FROM analytics_pageview")


@pytest.mark.postgres
def test_postgresql_refuses_every_hole_and_the_session_stays_read_only(postgres_seed: Seed) -> None:
    seed = postgres_seed
    code = RUNNER + textwrap.dedent(
        f"""
        from psycopg import sql
        outcomes = {{statement: attempt(statement) for statement in {list(POSTGRES_REFUSED) + list(POSTGRES_ALLOWED)!r}}}
        composed = sql.SQL("INSERT INTO {{}} (path) VALUES ({{}})").format(
            sql.Identifier("analytics_pageview"), sql.Literal({SECRET!r}))
        outcomes["composed"] = attempt(composed)
        outcomes["composed read"] = attempt(sql.SQL("SELECT {{}} FROM {{}}").format(
            sql.Identifier("path"), sql.Identifier("analytics_pageview")))
        outcomes["bytes"] = attempt(b"DELETE FROM analytics_pageview")
        # Atomic blocks, savepoints and a rolled-back savepoint, as Django sends them.
        with transaction.atomic(using="analytics"):
            with transaction.atomic(using="analytics"):
                attempt("SELECT 1")
            try:
                with transaction.atomic(using="analytics"):
                    raise KeyError
            except KeyError:
                pass
            outcomes["in atomic"] = attempt("SHOW transaction_read_only")
        # After all that, the session is still read-only, below Django too.
        outcomes["session"] = attempt("SHOW default_transaction_read_only")
        try:
            with connection.connection.cursor() as raw:
                raw.execute("INSERT INTO analytics_pageview (path) VALUES ('bypass')")
            outcomes["driver"] = None
        except Exception as error:
            outcomes["driver"] = type(error).__name__
        connection.connection.rollback()
        result(outcomes)
        """
    )
    outcomes = seed.shell(code)
    for statement, (operation, model) in POSTGRES_REFUSED.items():
        outcome = outcomes[statement]
        assert outcome["error"] == "ReadOnlyDatabaseError", (statement, outcome)
        assert (outcome["operation"], outcome["model"]) == (operation, model), statement
        assert SECRET not in outcome["message"]
    for statement, rows in POSTGRES_ALLOWED.items():
        assert outcomes[statement] == {"error": None, "rows": rows}, statement
    assert outcomes["composed"]["operation"] == "run an INSERT statement for"
    assert outcomes["composed"]["model"] == PAGEVIEW
    assert SECRET not in outcomes["composed"]["message"]
    assert outcomes["composed read"] == {"error": None, "rows": [["seed"]]}
    assert outcomes["bytes"]["operation"] == "run a DELETE statement for"
    assert outcomes["in atomic"] == {"error": None, "rows": [["on"]]}
    assert outcomes["session"] == {"error": None, "rows": [["on"]]}
    assert outcomes["driver"] == "ReadOnlySqlTransaction"
    # Read back directly, without Django: nothing changed, nothing was made.
    assert seed.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview") == [(1, "seed", None)]
    assert seed.rows("analytics", "SELECT to_regclass('pageview_copy')") == [(None,)]
    assert seed.rows("analytics", "SELECT last_value, is_called FROM analytics_pageview_id_seq") == [
        (1, False)
    ]


MARIADB_REFUSED: dict[str, tuple[str, str | None]] = {
    "SET SESSION TRANSACTION READ WRITE": ("run a SET TRANSACTION READ WRITE statement", None),
    "SET TRANSACTION READ WRITE": ("run a SET TRANSACTION READ WRITE statement", None),
    "START TRANSACTION READ WRITE": ("run a START ... READ WRITE statement", None),
    "SET @@session.tx_read_only = 0": ("run a SET tx_read_only statement", None),
    "SET SESSION tx_read_only = 0": ("run a SET tx_read_only statement", None),
    "SET STATEMENT tx_read_only = 0 FOR INSERT INTO analytics_pageview (path) VALUES ('s3cret-value')": (
        "run a SET STATEMENT statement",
        None,
    ),
    "/*!INSERT INTO analytics_pageview (path) VALUES ('s3cret-value')*/": (
        "run an INSERT statement for",
        PAGEVIEW,
    ),
    "/*M!100100 DELETE FROM analytics_pageview */": ("run a DELETE statement for", PAGEVIEW),
    "SELECT 1 # note\n; DELETE FROM analytics_pageview": ("run a DELETE statement for", PAGEVIEW),
    "REPLACE INTO analytics_pageview (id, path) VALUES (1, 's3cret-value')": (
        "run a REPLACE statement for",
        PAGEVIEW,
    ),
    "HANDLER analytics_pageview OPEN": ("run a HANDLER statement", None),
    "LOAD DATA LOCAL INFILE '/dev/null' INTO TABLE analytics_pageview": (
        "run a LOAD statement for",
        PAGEVIEW,
    ),
    "SELECT id FROM analytics_pageview LOCK IN SHARE MODE": (
        "lock rows with SELECT ... LOCK IN SHARE MODE of",
        PAGEVIEW,
    ),
    "SELECT id FROM analytics_pageview FOR UPDATE": ("lock rows with SELECT ... FOR UPDATE of", PAGEVIEW),
    "SELECT GET_LOCK('djcfg', 0)": ("call get_lock()", None),
    "DO GET_LOCK('djcfg', 0)": ("run a DO statement", None),
    "SELECT path INTO @p FROM analytics_pageview": ("run a SELECT ... INTO statement", None),
}
MARIADB_ALLOWED = {
    "SELECT 'waiting for update'": [["waiting for update"]],
    "SELECT REPLACE(path, 'ee', 'EE') FROM analytics_pageview": [["sEEd"]],
    'SELECT path FROM analytics_pageview WHERE path <> "DELETE FROM x"': [["seed"]],
    "SET NAMES utf8mb4": None,
    "SELECT @@tx_read_only": [[1]],
}


@pytest.mark.mysql
def test_mariadb_refuses_every_hole_and_the_session_stays_read_only(
    mariadb: mysql.MySQLDatabases, tmp_path: Path
) -> None:
    name = mariadb.create("ro")
    mysql.execute(
        "CREATE TABLE analytics_pageview (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "path varchar(200) NOT NULL, user_id bigint NULL)",
        name,
    )
    mysql.execute("INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')", name)
    seed = sqlite_seed(tmp_path)  # the other aliases: SQLite files nobody touches here
    seed.env["DATABASE_URL_ANALYTICS"] = mariadb.url(name, "read_only=true")
    code = RUNNER + textwrap.dedent(
        f"""
        outcomes = {{statement: attempt(statement) for statement in {list(MARIADB_REFUSED) + list(MARIADB_ALLOWED)!r}}}
        try:
            connection.cursor().callproc("any_procedure")
        except Exception as error:
            outcomes["callproc"] = [type(error).__name__, error.operation]
        with transaction.atomic(using="analytics"):  # SAVEPOINT `s...` / RELEASE / ROLLBACK TO
            with transaction.atomic(using="analytics"):
                outcomes["in atomic"] = attempt("SELECT @@tx_read_only")
            try:
                with transaction.atomic(using="analytics"):
                    raise KeyError
            except KeyError:
                pass
        with connection.connection.cursor() as raw:
            try:
                raw.execute("INSERT INTO analytics_pageview (path) VALUES ('bypass')")
                outcomes["driver"] = None
            except Exception as error:
                outcomes["driver"] = error.args[0]
        result(outcomes)
        """
    )
    outcomes = seed.shell(code)
    for statement, (operation, model) in MARIADB_REFUSED.items():
        outcome = outcomes[statement]
        assert outcome["error"] == "ReadOnlyDatabaseError", (statement, outcome)
        assert (outcome["operation"], outcome["model"]) == (operation, model), statement
        assert SECRET not in outcome["message"]
    for statement, rows in MARIADB_ALLOWED.items():
        assert outcomes[statement] == {"error": None, "rows": rows}, statement
    assert outcomes["callproc"] == ["ReadOnlyDatabaseError", "call a stored procedure"]
    assert outcomes["in atomic"] == {"error": None, "rows": [[1]]}
    assert outcomes["driver"] == 1792  # Cannot execute statement in a READ ONLY transaction
    assert mysql.execute("SELECT id, path, user_id FROM analytics_pageview", name) == [(1, "seed", None)]
