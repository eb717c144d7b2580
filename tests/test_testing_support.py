"""Test tools: ``test_name``/``test_mirror`` from the URL, ``allow_writes``, ``show`` of TEST settings.

The whole story (a user's suite under ``manage.py test`` and pytest) is in
tests/test_project_test_suites.py; here are the pieces, in-process where that is
just as real, and ``allow_writes`` against a real read-only PostgreSQL session.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.utils import ConnectionDoesNotExist
from django.test import override_settings

from djcfg_env import ConfigError, ReadOnlyDatabaseError, allow_writes, load
from tests.conftest import ROOT, run

BASE = {"SECRET_KEY": "x"}


# -- test_name and test_mirror ---------------------------------------------------------------


def test_test_name_and_test_mirror_configure_test_and_nothing_else() -> None:
    settings = load({
        **BASE,
        "DATABASE_URL": "postgres://app:pw@db/main?test_name=ci_main&sslmode=require",
        "DATABASE_URL_REPLICA": "postgres://ro:pw@replica/main?read_only=true&test_mirror=DEFAULT",
    })
    default, replica = settings.DATABASES["default"], settings.DATABASES["replica"]
    assert default["TEST"] == {"NAME": "ci_main"}
    assert default["NAME"] == "main" and default["OPTIONS"] == {"sslmode": "require"}
    assert replica["TEST"] == {"MIRROR": "default"}
    assert "TEST" not in load({**BASE, "DATABASE_URL": "sqlite:///a.db"}).DATABASES["default"]


@pytest.mark.parametrize(
    ("urls", "variable", "message"),
    [
        ({"DATABASE_URL": "sqlite:///a.db?test_mirror=default"}, "DATABASE_URL",
         "parameter test_mirror names this alias itself; a database cannot mirror itself under test"),
        ({"DATABASE_URL": "sqlite:///a.db", "DATABASE_URL_R": "sqlite:///r.db?test_mirror=nope"},
         "DATABASE_URL_R", "parameter test_mirror names an alias that is not defined; set it to one of "
         "the defined aliases (default), or remove it."),
        ({"DATABASE_URL": "sqlite:///a.db?test_mirror=not-an-alias"}, "DATABASE_URL",
         "parameter test_mirror is not an alias name"),
        ({"DATABASE_URL": "sqlite:///a.db?test_name="}, "DATABASE_URL", "parameter test_name is empty"),
        ({"DATABASE_URL": "sqlite:///a.db?test_name=a&test_name=b"}, "DATABASE_URL",
         "parameter test_name is given 2 times; give it once."),
    ],
)
def test_a_bad_test_parameter_is_a_config_error_naming_the_variable(urls, variable, message) -> None:
    with pytest.raises(ConfigError) as raised:
        load({**BASE, **urls})
    assert list(raised.value.problems) == [variable]
    assert any(line.startswith(message) for line in raised.value.problems[variable])
    assert "nope" not in str(raised.value)  # the value is never repeated


def test_show_prints_the_test_settings_and_the_route_as_written() -> None:
    env = {
        **BASE,
        "DATABASE_URL": "postgres://app:s3cret-pw@db/main?test_name=ci_main",
        "DATABASE_URL_REPLICA": "postgres://ro:s3cret-pw@replica/main?read_only=true&test_mirror=default",
        "DB_ROUTE_Blog": "replica",
    }
    human = run(["python", "-m", "djcfg_env", "show"], env=env)
    assert human.returncode == 0, human.stderr
    assert "    test:     name=ci_main" in human.stdout
    assert "    test:     mirror=default" in human.stdout
    assert "  blog -> replica  (DB_ROUTE_Blog)" in human.stdout
    machine = run(["python", "-m", "djcfg_env", "show", "--json"], env=env)
    shown = json.loads(machine.stdout)
    assert shown["databases"]["default"]["test"] == {"name": "ci_main"}
    assert shown["databases"]["replica"]["test"] == {"mirror": "default"}
    assert shown["route_variables"] == {"blog": "DB_ROUTE_Blog"}
    assert "s3cret-pw" not in human.stdout + machine.stdout


# -- allow_writes, in-process on SQLite ------------------------------------------------------

READ_ONLY_DEFAULT = override_settings(READ_ONLY_DATABASES=frozenset({"default"}))


def query_only() -> int:
    return int(connection.connection.execute("PRAGMA query_only").fetchone()[0])


@pytest.mark.django_db
def test_allow_writes_lifts_the_guard_and_the_pragma_for_its_block_only() -> None:
    with READ_ONLY_DEFAULT:
        with pytest.raises(ReadOnlyDatabaseError):
            Group.objects.create(name="refused")
        assert query_only() == 1
        with allow_writes("default"):
            Group.objects.create(name="orm")
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO auth_group (name) VALUES ('raw')")
            assert query_only() == 0
        assert query_only() == 1
        with pytest.raises(ReadOnlyDatabaseError):
            Group.objects.create(name="refused again")
        with pytest.raises(ReadOnlyDatabaseError), connection.cursor() as cursor:
            cursor.execute("DELETE FROM auth_group")
    assert sorted(Group.objects.values_list("name", flat=True)) == ["orm", "raw"]


@pytest.mark.django_db
def test_allow_writes_nests_and_decorates() -> None:
    @allow_writes("default")
    def fill(name: str) -> None:
        Group.objects.create(name=name)

    with READ_ONLY_DEFAULT:
        with allow_writes("default"):
            with allow_writes("default"):
                fill("inner")
            Group.objects.create(name="outer")  # still inside the outer block
        with pytest.raises(ReadOnlyDatabaseError):
            Group.objects.create(name="after")
        fill("decorated")
        with pytest.raises(ReadOnlyDatabaseError):
            Group.objects.create(name="after the decorated call")
    assert sorted(Group.objects.values_list("name", flat=True)) == ["decorated", "inner", "outer"]


def test_allow_writes_on_an_unknown_alias_fails_at_once() -> None:
    with pytest.raises(ConnectionDoesNotExist), allow_writes("nope"):
        pass


# -- allow_writes against PostgreSQL's read-only session --------------------------------------

SEED = ROOT / "tests" / "seed_project"

PG_SHELL = textwrap.dedent(
    """
    import json
    from django.db import connections
    from django.test import override_settings
    from djcfg_env import allow_writes

    analytics = connections["analytics"]
    def session():
        with analytics.cursor() as cursor:
            cursor.execute("SHOW default_transaction_read_only")
            return cursor.fetchone()[0]

    def insert(path):
        try:
            with analytics.cursor() as cursor:
                cursor.execute("INSERT INTO analytics_pageview (path) VALUES (%s)", [path])
            return "ok"
        except Exception as error:
            return type(error).__name__ + ": " + str(error).splitlines()[0]

    out = {"before": session()}
    with allow_writes("analytics"):
        out["inside"] = session()
        out["insert_inside"] = insert("/inside")
    out["after"] = session()
    out["insert_after"] = insert("/after")
    with override_settings(DJCFG_ENV={"READ_ONLY_GUARD": False}):
        out["unguarded"] = insert("/unguarded")   # the session itself refuses
    print("RESULT:" + json.dumps(out))
    """
)


@pytest.mark.postgres
def test_allow_writes_lifts_postgresqls_read_only_session_for_its_block(postgres) -> None:
    from tests import pg

    names = {alias: postgres.create(alias) for alias in ("main", "blog", "shop", "analytics")}
    pg.execute("CREATE TABLE analytics_pageview (id bigserial PRIMARY KEY, path varchar(200) NOT NULL, "
               "user_id bigint NULL)", names["analytics"])
    env = {
        "DATABASE_URL": postgres.url(names["main"]),
        "DATABASE_URL_BLOG_DB": postgres.url(names["blog"]),
        "DATABASE_URL_SHOP_DB": postgres.url(names["shop"]),
        "DATABASE_URL_ANALYTICS": postgres.url(names["analytics"], "read_only=true"),
        "DB_ROUTE_BLOG": "blog_db", "DB_ROUTE_SHOP": "shop_db", "DB_ROUTE_ANALYTICS": "analytics",
        "SECRET_KEY": "x", "PYTHONPATH": f"{ROOT / 'src'}:{SEED}", "DJANGO_SETTINGS_MODULE": "seedsite.settings",
    }
    result = run(["python", "-m", "django", "shell", "-v", "0", "-c", PG_SHELL], env=env, cwd=SEED)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.split("RESULT:", 1)[1])
    assert (out["before"], out["inside"], out["after"]) == ("on", "off", "on")
    assert out["insert_inside"] == "ok"
    assert out["insert_after"].startswith("ReadOnlyDatabaseError: Refused to run an INSERT statement")
    assert out["unguarded"].startswith("ReadOnlyDatabaseError") is False
    assert "read-only transaction" in out["unguarded"]
    rows = pg.execute("SELECT path FROM analytics_pageview ORDER BY id", names["analytics"])
    assert rows == [("/inside",)]
