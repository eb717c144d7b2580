"""The seed project with ``shop_db`` on MySQL/MariaDB, next to PostgreSQL and SQLite, end to end.

One mixed project, shared by the whole module: ``default`` (auth, contenttypes,
tagging) on PostgreSQL, ``blog_db`` on an SQLite file, ``shop_db`` (shop,
library) on MariaDB with ``charset`` and ``init_command`` in its URL, and the
read-only ``analytics`` on another MariaDB database (its own ``charset`` and
``init_command``). It is migrated once, by ``migrate_all`` over all three
engines. Tests drive it as a user does (``manage.py shell -c``, ``probe.py``,
``manage.py check``, ``python -m djcfg_env``) and read every database directly.

Most engine-independent relation, join-guard and generic-relation tests of
tests/test_relations.py, tests/test_join_guard.py and
tests/test_generic_relations.py are imported below and run here again, on this
project (they take the module's ``seed`` fixture): a user on PostgreSQL whose
rows in MariaDB and SQLite follow its ``on_delete`` rules, tags on PostgreSQL
of books in MariaDB.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import direct_sql, mysql, pg
from tests.conftest import run
from tests.seed_project.harness import CHECK_PROJECT, ROUTES, Seed

# The engine-independent scenarios, collected again here with this module's ``seed``.
from tests.seed_project.scenarios import (  # noqa: F401, E402
    GENERIC_APPS,
    PROBE,
    test_an_error_midway_rolls_back_every_database,
    test_cascade_into_a_read_only_alias_is_refused_before_anything_is_deleted,
    test_cross_database_joins_raise_before_any_query_is_sent,
    test_deleting_the_object_deletes_its_tags_in_the_other_database,
    test_do_nothing_leaves_the_read_only_database_alone,
    test_instance_delete_cascades_into_every_database_and_counts_it,
    test_queries_within_one_database_and_id_lookups_are_untouched,
    test_reading_and_writing_through_a_generic_relation_across_databases,
    test_set_null_and_set_default_update_rows_in_the_other_database,
    test_the_tables_are_where_the_routes_say,
)
from tests.seed_project.scenarios import test_protect_refuses_before_anything_is_deleted_anywhere as protect  # noqa: E402

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

#: alias -> where the mixed project keeps it.
ENGINES = {"default": "postgresql", "blog_db": "sqlite", "shop_db": "mysql", "analytics": "mysql"}
#: The unmanaged analytics table, made by hand as "another system" would.
ANALYTICS_TABLE = (
    "CREATE TABLE analytics_pageview (id bigint AUTO_INCREMENT PRIMARY KEY, "
    "path varchar(200) NOT NULL, user_id bigint NULL)"
)
SHOP_INIT = "SET @djcfg_init = 'shop'"
ANALYTICS_INIT = "SET @djcfg_init = 'analytics'"
READ_ONLY_INIT = "SET SESSION TRANSACTION READ ONLY"
#: MySQL's "Cannot execute statement in a READ ONLY transaction".
ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION = 1792


def init_command(sql: str) -> str:
    """``init_command=<sql>`` for a URL's query string, percent-encoded."""
    return f"init_command={quote(sql, safe='')}"


def read_only_variable() -> str:
    """The session's read-only flag: ``tx_read_only`` on MariaDB, ``transaction_read_only`` on MySQL 8."""
    return "tx_read_only" if mysql.is_mariadb() else "transaction_read_only"


@dataclass
class MixedSeed(Seed):
    """A :class:`Seed` whose aliases live on different engines (``ENGINES``)."""

    engines: dict[str, str] = field(default_factory=dict)
    #: The ``migrate_all`` run that migrated it.
    first_run: subprocess.CompletedProcess[str] | None = None

    def rows(self, alias: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        engine = self.engines[alias]
        if engine == "mysql":
            return mysql.execute(sql, self.names[alias], params)
        return direct_sql.rows(engine, self.names[alias], sql, params)

    def tables(self, alias: str) -> set[str]:
        engine = self.engines[alias]
        if engine == "mysql":
            return mysql.tables(self.names[alias])
        return Seed(engine, self.names).tables(alias)

    def migrate(self) -> None:
        self.first_run = self.manage("migrate_all", "--noinput")
        assert self.first_run.returncode == 0, self.first_run.stdout + self.first_run.stderr


def mixed_seed(directory: Path) -> Iterator[MixedSeed]:
    """Generator for a fixture: the mixed project, migrated, dropped afterwards."""
    pg.require_postgres()
    mysql.require_mysql()
    postgres, mariadb = pg.PostgresDatabases(), mysql.MySQLDatabases()
    try:
        names = {
            "default": postgres.create("default"),
            "blog_db": str(directory / "blog.sqlite3"),
            "shop_db": mariadb.create("shop"),
            "analytics": mariadb.create("analytics"),
        }
        env = {
            "SECRET_KEY": "seed-project-tests-not-a-secret",
            "DEBUG": "false",
            **ROUTES,
            **GENERIC_APPS,
            "DATABASE_URL": postgres.url(names["default"]),
            "DATABASE_URL_BLOG_DB": f"sqlite:///{names['blog_db']}",
            "DATABASE_URL_SHOP_DB": mariadb.url(
                names["shop_db"], f"charset=utf8mb4&{init_command(SHOP_INIT)}"
            ),
            "DATABASE_URL_ANALYTICS": mariadb.url(
                names["analytics"], f"charset=utf8mb3&{init_command(ANALYTICS_INIT)}&read_only=true"
            ),
        }
        seed = MixedSeed("mixed", names, env, engines=ENGINES)
        seed.execute("analytics", ANALYTICS_TABLE)
        seed.execute("analytics", "INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')")
        seed.migrate()
        yield seed
    finally:
        mariadb.drop_all()
        postgres.drop_all()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedSeed]:
    yield from mixed_seed(tmp_path_factory.mktemp("mariadb_mixed"))


def test_protect_refuses_before_anything_is_deleted_anywhere(seed: MixedSeed) -> None:
    """tests/test_relations.py's PROTECT scenario, for an instance delete (the queryset
    delete takes the same path there, on every engine)."""
    protect(seed, "instance")


# -- migrate_all over three engines ------------------------------------------------------


def test_migrate_all_migrates_postgresql_sqlite_and_mariadb_in_one_run(seed: MixedSeed) -> None:
    assert seed.first_run is not None
    out = seed.first_run.stdout
    names = seed.names
    assert "migrate_all: migrating 3 aliases (default, blog_db, shop_db); skipping read-only: analytics" in out
    assert f"[analytics] skipped: read-only (mysql 127.0.0.1:3306/{names['analytics']})" in out
    assert f"[default] start: postgresql 127.0.0.1:5432/{names['default']}" in out
    assert f"[blog_db] start: sqlite {names['blog_db']}" in out
    assert f"[shop_db] start: mysql 127.0.0.1:3306/{names['shop_db']}" in out
    # shop.0001 and library.0001 applied; every other migration recorded only, as
    # migrate --database does (their tables live on other aliases).
    assert "[shop_db] done: applied 2 migrations in " in out
    assert "of apps on other aliases, as migrate does)" in out
    assert "migrate_all: ok: 3 migrated, 1 skipped (read-only)" in out
    assert mysql.password_free(seed.first_run)

    # Each database got exactly its apps' tables, each migration recorded once.
    assert seed.tables("shop_db") == {
        "django_migrations", "shop_customer", "shop_order", "shop_wishlist", "shop_promotion", "library_book",
    }
    assert {"auth_user", "django_content_type", "tagging_taggeditem"} <= seed.tables("default")
    assert not {t for t in seed.tables("default") if t.startswith(("shop_", "blog_", "library_"))}
    assert seed.tables("blog_db") == {"django_migrations", "blog_post", "blog_comment"}
    assert seed.tables("analytics") == {"analytics_pageview"}  # never migrated
    shop_rows = mysql.migration_rows(names["shop_db"])
    assert sorted(shop_rows) == sorted(set(shop_rows))
    assert sorted(f"{a}.{n}" for a, n in shop_rows if a in ("shop", "library")) == [
        "library.0001_initial", "shop.0001_initial",
    ]

    again = seed.manage("migrate_all", "--noinput")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[shop_db] done: up to date (" in again.stdout
    assert "migrate_all: ok: 3 up to date, 1 skipped (read-only)" in again.stdout
    check = seed.manage("migrate_all", "--check")
    assert check.returncode == 0, check.stdout + check.stderr


# -- URLs, options, the session ------------------------------------------------------------


def test_url_options_are_parsed_and_shown_masked(seed: MixedSeed) -> None:
    done = run(["python", "-m", "djcfg_env", "show", "--json"], env=seed.env)
    assert done.returncode == 0, done.stdout + done.stderr
    databases = json.loads(done.stdout)["databases"]
    shop, analytics = databases["shop_db"], databases["analytics"]
    assert (shop["engine"], shop["host"], shop["port"], shop["name"], shop["user"], shop["password"]) == (
        "django.db.backends.mysql", "127.0.0.1", 3306, seed.names["shop_db"], "djcfg", "***",
    )
    assert shop["options"] == {"charset": "utf8mb4", "init_command": SHOP_INIT}
    assert shop["read_only"] is False
    assert analytics["read_only"] is True
    assert analytics["options"] == {
        "charset": "utf8mb3", "init_command": f"{ANALYTICS_INIT}; {READ_ONLY_INIT}",
    }
    assert json.loads(done.stdout)["read_only"] == ["analytics"]
    assert mysql.password_free(done)
    checked = run(["python", "-m", "djcfg_env", "check"], env=seed.env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 read-only (analytics)" in checked.stdout


def test_charset_and_init_command_reach_the_connection_and_the_session_is_read_only(seed: MixedSeed) -> None:
    isolation = "tx_isolation" if mysql.is_mariadb() else "transaction_isolation"
    sql = f"SELECT @djcfg_init, @@character_set_connection, @@{read_only_variable()}, @@{isolation}"
    out = seed.shell(
        f"""
        from django.db import connections

        def session(alias):
            with connections[alias].cursor() as cursor:
                cursor.execute({sql!r})
                return list(cursor.fetchone())

        analytics = connections["analytics"]
        shop, read_only = session("shop_db"), session("analytics")
        # Below Django's guard: the driver's own cursor, straight to the server.
        try:
            analytics.connection.cursor().execute("INSERT INTO analytics_pageview (path) VALUES ('bypass')")
            refusal = None
        except Exception as error:
            refusal = [type(error).__module__ + "." + type(error).__name__, error.args[0], str(error.args[1])]
        # A new connection gets the same session (init_command runs on every connect).
        analytics.close()
        reconnected = session("analytics")
        result({{"shop": shop, "analytics": read_only, "refusal": refusal, "reconnected": reconnected}})
        """
    )
    assert out["shop"] == ["shop", "utf8mb4", 0, "READ-COMMITTED"]
    charset = out["analytics"][1]
    assert charset.startswith("utf8") and charset != "utf8mb4"  # utf8mb3 (MariaDB 10.6+, MySQL 8.0.30+) or utf8
    # Both init commands ran: the URL's own and the read-only session; Django's
    # SET SESSION TRANSACTION ISOLATION LEVEL afterwards kept it read-only.
    assert out["analytics"][0] == "analytics"
    assert out["analytics"][2:] == [1, "READ-COMMITTED"]
    assert out["reconnected"] == out["analytics"]
    assert out["refusal"] is not None, "the server accepted a write on the read-only session"
    assert out["refusal"][:2] == ["MySQLdb.OperationalError", ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION]
    assert "READ ONLY" in out["refusal"][2]
    assert seed.rows("analytics", "SELECT count(*) FROM analytics_pageview WHERE path = 'bypass'") == [(0,)]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:p@db/x?read_only=true", READ_ONLY_INIT),
        ("mysql2://u:p@db/x?read_only=yes", READ_ONLY_INIT),
        ("mysqlgis://u:p@db/x?read_only=true", READ_ONLY_INIT),
        (f"mysql://u:p@db/x?{init_command('SET @a = 1')}&read_only=true", f"SET @a = 1; {READ_ONLY_INIT}"),
        (f"mysql://u:p@db/x?{init_command(' SET @a = 1; ')}&read_only=true", f"SET @a = 1; {READ_ONLY_INIT}"),
        (f"mysql://u:p@db/x?{init_command('SET @a = 1')}&read_only=false", "SET @a = 1"),
        ("mysql://u:p@db/x", None),
    ],
)
def test_a_read_only_mysql_alias_gets_a_read_only_session(url: str, expected: str | None) -> None:
    from djcfg_env import load

    settings = load({"DATABASE_URL": url, "SECRET_KEY": "x"})
    assert settings.DATABASES["default"]["OPTIONS"].get("init_command") == expected
    assert (settings.READ_ONLY_DATABASES == frozenset({"default"})) is ("read_only=true" in url or "read_only=yes" in url)


# -- router and read-only alias ------------------------------------------------------------


def test_rows_go_where_the_routes_say(seed: MixedSeed) -> None:
    done = seed.probe("routing")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["author"] == "ada"
    assert (out["post_db"], out["user_db"]) == ("blog_db", "default")
    assert "12.00" in out["orders"]  # (other tests' orders too: the project is shared)
    assert "seed" in out["views"]
    assert out["tables"] == {
        "default": ["auth_user"],
        "blog_db": ["blog_comment", "blog_post"],
        "shop_db": ["shop_order"],
        "analytics": ["analytics_pageview"],
    }
    (user,) = seed.rows("default", "SELECT id FROM auth_user WHERE username = 'ada'")[0]
    assert seed.rows("shop_db", "SELECT total FROM shop_order WHERE placed_by_id = %s", [user]) == [(12,)]
    assert seed.rows("blog_db", "SELECT title FROM blog_post WHERE author_id = %s", [user]) == [("Hello",)]
    assert seed.rows("default", "SELECT count(*) FROM auth_user WHERE username = 'ada'") == [(1,)]


def test_every_write_to_the_read_only_mariadb_alias_is_refused_before_any_sql(seed: MixedSeed) -> None:
    from tests.test_read_only import _EXPECTED, _REFUSAL

    before = seed.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview ORDER BY id")
    done = seed.probe("read_only")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    seen = set()
    for attempt in out["results"]:
        seen.add(attempt["op"])
        assert attempt["error"] == "ReadOnlyDatabaseError", attempt
        assert attempt["message"] == _EXPECTED[attempt["op"]] + _REFUSAL
        assert attempt["sent"] == [], f"{attempt['op']} sent SQL: {attempt['sent']}"
    # MariaDB locks rows, so select_for_update() is among the refused writes.
    assert seen == set(_EXPECTED)
    assert out["reads"]["sent_to"] == ["analytics"]
    assert out["reads"]["count"] == len(before)
    assert out["posts"] == 1  # writes elsewhere still work
    assert seed.rows("analytics", "SELECT id, path, user_id FROM analytics_pageview ORDER BY id") == before


def test_a_stray_same_named_table_in_mariadb_cannot_answer_a_join(seed: MixedSeed) -> None:
    """A forgotten ``auth_user`` in the shop database: the guard refuses instead of reading it."""
    setup = seed.shell(
        """
        from django.contrib.auth.models import User
        from shop.models import Order
        real = User.objects.create_user("mariadb-stray-real")
        order = Order.objects.create(placed_by=real, total=1)
        result({"user": real.pk, "order": order.pk})
        """
    )
    seed.execute("shop_db", "CREATE TABLE auth_user (id int PRIMARY KEY, username varchar(150) NOT NULL)")
    try:
        seed.execute("shop_db", f"INSERT INTO auth_user VALUES ({setup['user']}, 'mariadb-stray-impostor')")
        out = seed.shell(
            PROBE
            + f"""
from shop.models import Order
result([
    probe("[o.placed_by.username for o in Order.objects.filter(pk={setup['order']}).select_related('placed_by')]"),
    probe("list(Order.objects.filter(placed_by__username='mariadb-stray-impostor').values_list('pk', flat=True))"),
    probe("[o.placed_by.username for o in Order.objects.filter(pk={setup['order']}).prefetch_related('placed_by')]"),
])
"""
        )
    finally:
        seed.execute("shop_db", "DROP TABLE auth_user")
    joined, filtered, prefetched = out
    for outcome in (joined, filtered):
        assert outcome["relation"] == "shop.Order.placed_by", outcome
        assert (outcome["alias"], outcome["table_alias"]) == ("shop_db", "default")
        assert outcome["queries"] == 0 and "value" not in outcome, outcome
    assert prefetched["value"] == ["mariadb-stray-real"]


# -- system checks -------------------------------------------------------------------------


def check(seed: MixedSeed, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = run(["python", "manage.py", "check", *args], env={**seed.env, **env}, cwd=CHECK_PROJECT)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert mysql.password_free(done)
    return done


def test_checks_with_mariadb_aliases(seed: MixedSeed) -> None:
    # A constrained foreign key from an app routed to MariaDB to blog on SQLite: fine while
    # CROSS_DATABASE_FOREIGN_KEYS makes no constraint, E001 with it off; and the database
    # checks of both MariaDB aliases pass (strict mode is on).
    fine = check(seed, "--database", "shop_db", "--database", "analytics",
                 EXTRA_APPS=f"{seed.env['EXTRA_APPS']},badfk", DB_ROUTE_BADFK="shop_db")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    bad = check(seed, "--database", "shop_db", "--database", "analytics", EXTRA_APPS="badfk",
                DB_ROUTE_BADFK="shop_db", SEED_DJCFG_ENV='{"CROSS_DATABASE_FOREIGN_KEYS": false}')
    assert bad.returncode == 1, bad.stdout + bad.stderr
    output = " ".join((bad.stdout + bad.stderr).split())
    assert (
        "badfk.Note.post: (djcfg_env.E001) badfk.Note.post is a ForeignKey to blog.Post across "
        "databases (badfk.Note on 'shop_db' (DB_ROUTE_BADFK), blog.Post on 'blog_db' (DB_ROUTE_BLOG))"
    ) in output
    assert "mysql.W002" not in output

    # An init_command in the URL reaches the connection the checks open: sql_mode=''
    # switches strict mode off on the read-only alias, and Django's own check sees it.
    loose = seed.env["DATABASE_URL_ANALYTICS"].replace(
        init_command(ANALYTICS_INIT), init_command("SET SESSION sql_mode = ''")
    )
    warned = check(seed, "--database", "analytics", DATABASE_URL_ANALYTICS=loose)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "(mysql.W002)" in warned.stdout + warned.stderr
    assert "for database connection 'analytics'" in warned.stdout + warned.stderr
    assert "djcfg_env." not in warned.stdout + warned.stderr
