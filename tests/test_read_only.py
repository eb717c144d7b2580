"""Writes routed to a read-only alias are refused before any SQL is sent.

In process (tests/settings.py, where ``analytics`` is ``sqlite://:memory:?read_only=true``):
every write path is attempted against ``analytics`` while a recorder on every
connection (innermost, after djcfg-env's SQL guard) logs each statement that
reaches a database; then the table is read back. End to end on PostgreSQL
(tests/seed_project/probe.py, scenario ``read_only``): the same writes plus
``select_for_update()`` (SQLite has no row locks), and the session itself
read-only on the server, below Django.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from analytics.models import PageView
from asgiref.sync import async_to_sync
from blog.models import Post
from django.contrib.auth.models import User
from django.db import connections, transaction
from django.test import override_settings

from djcfg_env.orm import readonly
from djcfg_env.readonly import ReadOnlyDatabaseError
from tests.conftest import SEED_DATABASES, read_only_guard_off
from tests.seed_project.harness import InProcess, Seed

in_process = pytest.mark.django_db(databases=SEED_DATABASES)

_REFUSAL = (
    "on the database alias 'analytics': that alias is read-only (read_only=true in "
    "DATABASE_URL_ANALYTICS), so nothing was sent to the database. Write through a writable "
    "alias, or remove read_only=true from DATABASE_URL_ANALYTICS if this database should "
    "accept writes."
)
_EXPECTED = {
    "save": "Refused to save analytics.PageView ",
    "create": "Refused to save analytics.PageView ",
    "save_existing": "Refused to save analytics.PageView ",
    "instance_delete": "Refused to delete analytics.PageView ",
    "queryset_update": "Refused to update analytics.PageView ",
    "queryset_delete": "Refused to delete analytics.PageView ",
    "bulk_create": "Refused to bulk_create analytics.PageView ",
    "bulk_update": "Refused to bulk_update analytics.PageView ",
    "get_or_create": "Refused to get_or_create analytics.PageView ",
    "update_or_create": "Refused to update_or_create analytics.PageView ",
    "explicit_using": "Refused to save blog.Post ",
    "async_create": "Refused to save analytics.PageView ",
    "raw_insert": "Refused to run an INSERT statement for analytics.PageView ",
    "raw_delete": "Refused to run a DELETE statement for analytics.PageView ",
    "select_for_update": "Refused to lock rows with SELECT ... FOR UPDATE of analytics.PageView ",
}


def fill_analytics(sql: InProcess) -> None:
    """The row the other system wrote: (1, 'seed', NULL), in the test's transaction."""
    with read_only_guard_off():
        sql.execute("analytics", "INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')")


def raw(statement: str) -> Callable[[], Any]:
    def run() -> Any:
        with connections["analytics"].cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else None

    return run


@in_process
def test_every_write_is_refused_before_any_sql(sql: InProcess) -> None:
    fill_analytics(sql)
    existing = PageView.objects.get(pk=1)

    def save_existing() -> None:
        existing.path = "changed"
        existing.save()

    async def async_create() -> None:
        await PageView.objects.acreate(path="a")

    operations: dict[str, Callable[[], Any]] = {
        "save": lambda: PageView(path="new").save(),
        "create": lambda: PageView.objects.create(path="new"),
        "save_existing": save_existing,
        "instance_delete": lambda: existing.delete(),
        "queryset_update": lambda: PageView.objects.filter(pk=1).update(path="z"),
        "queryset_delete": lambda: PageView.objects.all().delete(),
        "bulk_create": lambda: PageView.objects.bulk_create([PageView(path="b")]),
        "bulk_update": lambda: PageView.objects.bulk_update([existing], ["path"]),
        "get_or_create": lambda: PageView.objects.get_or_create(path="seed"),
        "update_or_create": lambda: PageView.objects.update_or_create(path="seed", defaults={"user_id": 3}),
        "explicit_using": lambda: Post.objects.using("analytics").create(author_id=1, title="t"),
        # In this thread, as Django runs the async ORM's database work: the recorder sees it.
        "async_create": async_to_sync(async_create),
        "raw_insert": raw("INSERT INTO analytics_pageview (path) VALUES ('raw')"),
        "raw_delete": raw("DELETE FROM analytics_pageview"),
    }
    for name, action in operations.items():
        with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError) as raised:
            action()
        assert str(raised.value) == _EXPECTED[name] + _REFUSAL
        assert sent == [], f"{name} sent SQL: {sent}"
    # select_for_update() only where the backend locks rows: SQLite has no row locks,
    # Django leaves FOR UPDATE out there, so it is a read (see the PostgreSQL test below).
    assert set(operations) == set(_EXPECTED) - {"select_for_update"}
    with transaction.atomic(using="analytics"):
        assert [view.path for view in PageView.objects.select_for_update()] == ["seed"]
    # Reads still work, and go to the read-only alias.
    with sql.sent() as sent:
        reads = {
            "count": PageView.objects.count(),
            "paths": list(PageView.objects.values_list("path", flat=True)),
        }
    assert reads == {"count": 1, "paths": ["seed"]}
    assert {alias for alias, _ in sent} == {"analytics"}
    # Writes to the writable aliases are not affected.
    user = User.objects.create(username="writer")
    Post.objects.create(author=user, title="ok")
    Post.objects.filter(author_id=user.pk).update(title="still ok")
    assert Post.objects.filter(title="still ok").count() == 1
    # The table is untouched, read directly.
    assert sql.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview") == [(1, "seed", None)]


#: Raw writes the SQL guard must recognise behind comments and common table expressions.
RAW_WRITES = {
    "-- nightly fix\nUPDATE analytics_pageview SET path = 'x'": "run an UPDATE statement for",
    "/* a */ -- b\n  DELETE FROM analytics_pageview": "run a DELETE statement for",
    "WITH ids AS (SELECT id FROM analytics_pageview) UPDATE analytics_pageview SET path = 'y'": "run an UPDATE statement for",
    "WITH gone AS (DELETE FROM analytics_pageview RETURNING id) SELECT count(*) FROM gone": "run a DELETE statement for",
    "WITH ids AS MATERIALIZED (SELECT id FROM analytics_pageview) "
    "UPDATE analytics_pageview SET path = 'z' WHERE id IN (SELECT id FROM ids)": "run an UPDATE statement for",
    "VACUUM": "run a VACUUM statement",
}


@in_process
def test_raw_writes_behind_comments_ctes_and_pragmas_are_refused(sql: InProcess) -> None:
    fill_analytics(sql)
    for statement, operation in RAW_WRITES.items():
        with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError) as raised:
            raw(statement)()
        label = None if statement == "VACUUM" else "analytics.PageView"
        assert (raised.value.operation, raised.value.model, raised.value.alias) == (
            operation,
            label,
            "analytics",
        )
        assert sent == [], statement
    # A read through a common table expression is a read.
    assert raw("WITH x AS (SELECT id FROM analytics_pageview) SELECT id FROM x WHERE id IN (1)")() == [(1,)]
    # A pragma that sets something is not a read: refused before it is sent.
    with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError) as raised:
        raw("PRAGMA user_version = 7")()
    assert raised.value.operation == "run a PRAGMA user_version statement"
    assert sent == []
    # Below Django, on the raw sqlite3 connection: SQLite itself refuses the write
    # (PRAGMA query_only), and refuses to turn query_only off (the guard's authorizer).
    driver = connections["analytics"].connection
    with pytest.raises(sqlite3.OperationalError, match="^attempt to write a readonly database$"):
        driver.execute("PRAGMA user_version = 7")
    with pytest.raises(sqlite3.DatabaseError, match="^not authorized$"):
        driver.execute("PRAGMA query_only = OFF")
    assert driver.execute("PRAGMA query_only").fetchone() == (1,)
    assert (PageView.objects.count(), PageView.objects.exists(), sorted(PageView.objects.in_bulk())) == (
        1,
        True,
        [1],
    )
    assert sql.rows("analytics", "SELECT path FROM analytics_pageview") == [("seed",)]
    assert sql.rows("analytics", "PRAGMA user_version") == [(0,)]


def test_the_error_pickles_and_names_no_url() -> None:
    error = ReadOnlyDatabaseError("save", "analytics.PageView", "analytics")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert (copy.operation, copy.model, copy.alias) == ("save", "analytics.PageView", "analytics")
    assert "://" not in str(error)


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("INSERT INTO t VALUES (1)", True),
        ("  update t SET a = 1", True),
        ("/* note */ DELETE FROM t", True),
        ("-- nightly fix\nUPDATE t SET a = 42", True),
        ("/* a */ -- b\n  DELETE FROM t", True),
        ("CREATE TABLE t (a int)", True),
        ("DROP TABLE t", True),
        ("TRUNCATE t", True),
        ("VACUUM", True),
        ("SELECT * FROM t", False),
        ("SELECT 'INSERT INTO t'", False),
        ("SAVEPOINT s1", False),
        ("RELEASE SAVEPOINT s1", False),
        ("SHOW default_transaction_read_only", False),
        ("WITH x AS (SELECT id FROM t) SELECT id FROM x", False),
    ],
)
def test_which_statements_the_sql_guard_refuses(sql: str, refused: bool) -> None:
    from djcfg_env.orm.statements import writes

    assert (writes(sql) is not None) is refused


@pytest.mark.parametrize(
    ("sql", "locks"),
    [
        ('SELECT "t"."id" FROM "t" WHERE "t"."id" = %s FOR UPDATE', True),
        ('SELECT "t"."id" FROM "t" FOR UPDATE OF "t" NOWAIT', True),
        ('SELECT "t"."id" FROM "t" FOR NO KEY UPDATE SKIP LOCKED', True),
        ('SELECT "t"."id" FROM "t" FOR SHARE', True),
        ('SELECT "t"."id" FROM "t" FOR KEY SHARE', True),
        ('SELECT "t"."id" FROM "t" ORDER BY "t"."updated" DESC', False),
        ('SELECT "t"."for_update" FROM "t"', False),
        ("SELECT 'waiting for update' FROM \"t\"", False),
    ],
)
def test_which_statements_lock_rows(sql: str, locks: bool) -> None:
    from djcfg_env.orm.statements import refusal

    found = refusal(sql)
    assert (found is not None and found.operation == "lock rows with SELECT ... FOR UPDATE") is locks
    assert found is None or found.table == "t"


def test_the_guard_follows_read_only_databases_and_goes_when_none_is_left() -> None:
    from django.conf import settings

    # tests/settings.py: analytics and replica (among others) are read-only.
    configured = frozenset(settings.READ_ONLY_DATABASES)
    assert {"analytics", "replica"} <= configured
    assert readonly.guarded_aliases() == configured
    with override_settings(READ_ONLY_DATABASES=frozenset({"shop_db"})):
        assert readonly.guarded_aliases() == frozenset({"shop_db"})
    with override_settings(READ_ONLY_DATABASES=frozenset()):
        assert readonly.guarded_aliases() == frozenset()
    with read_only_guard_off():
        assert readonly.guarded_aliases() == frozenset()
    assert readonly.guarded_aliases() == configured


# -- end to end, on PostgreSQL ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("seed", ["postgresql"], indirect=True)
def test_every_write_is_refused_on_postgresql_and_the_session_is_read_only(seed: Seed) -> None:
    seed.execute("analytics", "INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')")
    try:
        result = seed.probe("read_only")
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        table = seed.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview")
    finally:
        seed.execute("analytics", "DELETE FROM analytics_pageview")
    for attempt in out["results"]:
        assert attempt["error"] == "ReadOnlyDatabaseError", attempt
        assert attempt["message"] == _EXPECTED[attempt["op"]] + _REFUSAL
        assert attempt["sent"] == [], f"{attempt['op']} sent SQL: {attempt['sent']}"
    # PostgreSQL locks rows: select_for_update() is refused too.
    assert {attempt["op"] for attempt in out["results"]} == set(_EXPECTED)
    assert out["reads"] == {"count": 1, "paths": ["seed"], "sent_to": ["analytics"]}
    assert out["posts"] == 1
    assert table == [(1, "seed", None)]
    # The session is read-only on the server as well, below Django.
    assert out["session_read_only"] == "on"
    assert out["server_refusal"] == "ReadOnlySqlTransaction"
