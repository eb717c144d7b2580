"""Writes routed to a read-only alias are refused before any SQL is sent.

Runs tests/seed_project/probe.py (scenario ``read_only``) on SQLite files and
on real PostgreSQL: every write path is attempted against ``analytics`` (an
alias with ``?read_only=true``) while a recorder on every connection logs each
statement actually sent; then the table is read back directly.
"""

from __future__ import annotations

import json
import pickle

import pytest
from django.test import override_settings

from djcfg_env.orm import readonly
from djcfg_env.readonly import ReadOnlyDatabaseError
from tests.seed_project.harness import Seed, databases  # noqa: F401 - fixture

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


def test_every_write_is_refused_before_any_sql(databases: Seed) -> None:
    databases.migrate()
    databases.execute("analytics", "INSERT INTO analytics_pageview (path) VALUES ('seed')")
    result = databases.probe("read_only")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    seen = {}
    for attempt in out["results"]:
        seen[attempt["op"]] = attempt
        assert attempt["error"] == "ReadOnlyDatabaseError", attempt
        assert attempt["message"] == _EXPECTED[attempt["op"]] + _REFUSAL
        assert attempt["sent"] == [], f"{attempt['op']} sent SQL: {attempt['sent']}"
    # select_for_update() only where the backend locks rows (SQLite has no row locks:
    # Django leaves FOR UPDATE out there, so there is nothing to refuse).
    locks = databases.backend == "postgresql"
    assert set(seen) == set(_EXPECTED) - (set() if locks else {"select_for_update"})
    # Reads still work, and go to the read-only alias.
    assert out["reads"] == {"count": 1, "paths": ["seed"], "sent_to": ["analytics"]}
    # Writes to the writable aliases are not affected.
    assert out["posts"] == 1
    # The table is untouched, read directly.
    assert databases.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview") == [
        (1, "seed", None)
    ]
    if databases.backend == "postgresql":
        # The session is read-only on the server as well, below Django.
        assert out["session_read_only"] == "on"
        assert out["server_refusal"] == "ReadOnlySqlTransaction"


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
        ("CREATE TABLE t (a int)", True),
        ("DROP TABLE t", True),
        ("TRUNCATE t", True),
        ("SELECT * FROM t", False),
        ("SELECT 'INSERT INTO t'", False),
        ("SAVEPOINT s1", False),
        ("RELEASE SAVEPOINT s1", False),
        ("SHOW default_transaction_read_only", False),
    ],
)
def test_which_statements_the_sql_guard_refuses(sql: str, refused: bool) -> None:
    from djcfg_env.orm.readonly import _WRITE_SQL

    assert bool(_WRITE_SQL.match(sql)) is refused


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
    ],
)
def test_which_statements_lock_rows(sql: str, locks: bool) -> None:
    from djcfg_env.orm.readonly import _LOCK_SQL

    assert bool(_LOCK_SQL.search(sql)) is locks


def test_the_guard_follows_read_only_databases_and_goes_when_none_is_left() -> None:
    databases = {alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
                 for alias in ("default", "replica")}
    assert readonly.guarded_aliases() == frozenset()
    with override_settings(DATABASES=databases, READ_ONLY_DATABASES=frozenset({"replica"})):
        assert readonly.guarded_aliases() == frozenset({"replica"})
    assert readonly.guarded_aliases() == frozenset()
