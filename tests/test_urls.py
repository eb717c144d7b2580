"""URL parsing: parity with dj-database-url, reserved parameters, read_only, pool, rejections.

Where dj-database-url accepts a URL, ``load()`` must build the same connection
(ENGINE, NAME, USER, PASSWORD, HOST, PORT, OPTIONS); the reserved parameters
are taken out of OPTIONS and applied to the alias; and URLs the user cannot
have meant are rejected with a message that says what to write instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dj_database_url
import django
import pytest

from djcfg_env import ConfigError, load
from djcfg_env.env import schema as schema_module
from tests.conftest import run

SECRET_KEY = "urls-test-secret-key-5c1d"
PROBE = Path(__file__).parent / "core_project" / "probe.py"
CONNECTION_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")

SQLITE_SCHEMES = ("sqlite", "spatialite")
POSTGRES_LIKE = ("postgres", "postgresql", "pgsql", "postgis", "timescale", "timescalegis",
                 "cockroach")


def resolve(url: str, **extra: str) -> dict[str, Any]:
    """The ``default`` alias ``load()`` builds from ``url``."""
    return load({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, **extra}).DATABASES["default"]


def problems_for(url: str, **extra: str) -> list[str]:
    """The messages about DATABASE_URL for a URL that must be rejected."""
    with pytest.raises(ConfigError) as caught:
        resolve(url, **extra)
    assert set(caught.value.problems) == {"DATABASE_URL"}, caught.value.problems
    return list(caught.value.problems["DATABASE_URL"])


def connection(config: dict[str, Any]) -> dict[str, Any]:
    """The connection part of a config, with dj-database-url's omissions filled in."""
    return {key: config.get(key, {} if key == "OPTIONS" else "") for key in CONNECTION_KEYS}


# -- parity with dj_database_url.parse --------------------------------------------------


def _network_urls(scheme: str) -> list[str]:
    return [
        f"{scheme}://user:pass@db.example.com:1234/dbname",
        f"{scheme}://user:pass@db.example.com/dbname",
        f"{scheme}://db.example.com/dbname",
        # percent-encoded user, password and database name
        f"{scheme}://us%40er:p%40ss%2Fw%3Ard%23%3F%25@db.example.com/db%20name",
        # IPv6 host, with and without a port
        f"{scheme}://user:pw@[2001:db8::1]:5433/dbname",
        f"{scheme}://user:pw@[::1]/dbname",
        f"{scheme}://user:pw@[fe80::1%25eth0]:5432/dbname",  # with a zone id
        # a unix-socket directory as a percent-encoded host
        f"{scheme}://user:pw@%2Fvar%2Frun%2Fdb/dbname",
        f"{scheme}://%2Ftmp/dbname",
        # driver options, converted the way dj-database-url converts them
        f"{scheme}://user:pw@host/dbname?connect_timeout=10&application_name=web%20app"
        "&target_session_attrs=read-write&keepalives=true",
        f"{scheme}://user:pw@host/dbname?ssl-ca=%2Fetc%2Fca.pem&sslmode=require",
        f"{scheme}://user:pw@host/dbname?currentSchema=reporting",
        # the scheme is case-insensitive for urlsplit, so for dj-database-url too
        f"{scheme.upper()}://user:pw@host/dbname",
    ]


def _sqlite_urls(scheme: str) -> list[str]:
    urls = [
        f"{scheme}:///relative.db",
        f"{scheme}:////absolute/path/app.sqlite3",
        f"{scheme}:///data/my%20db.sqlite3",
        f"{scheme}://",
        f"{scheme}:///",
        f"{scheme}:///app.db?timeout=20",
    ]
    if scheme == "sqlite":
        urls.append("sqlite://:memory:")
    return urls


PARITY = [
    pytest.param(url, id=f"{scheme}:{index}")
    for scheme in sorted(dj_database_url.ENGINE_SCHEMES)
    for index, url in enumerate(
        _sqlite_urls(scheme) if scheme in SQLITE_SCHEMES else _network_urls(scheme)
    )
]


def test_parity_covers_every_scheme_dj_database_url_knows() -> None:
    tested = {param.values[0].split("://", 1)[0].lower() for param in PARITY}
    assert tested == set(dj_database_url.ENGINE_SCHEMES)
    # the schemes the issue names explicitly are among them
    assert {"postgres", "postgresql", "pgsql", "postgis", "mysql", "mysql-connector",
            "mysqlgis", "sqlite", "spatialite", "oracle", "mssql", "cockroach",
            "timescale"} <= tested


@pytest.mark.parametrize("url", PARITY)
def test_same_connection_as_dj_database_url(url: str) -> None:
    expected = connection(dict(dj_database_url.parse(url)))
    assert connection(resolve(url)) == expected


def test_parity_details_are_really_exercised() -> None:
    """Guard the table above: these URLs decode the way the table's ids promise."""
    encoded = resolve("postgres://us%40er:p%40ss%2Fw%3Ard%23%3F%25@db.example.com/db%20name")
    assert (encoded["USER"], encoded["PASSWORD"], encoded["NAME"]) == (
        "us@er", "p@ss/w:rd#?%", "db name")
    ipv6 = resolve("mysql://user:pw@[2001:db8::1]:5433/dbname")
    assert (ipv6["HOST"], ipv6["PORT"]) == ("2001:db8::1", 5433)
    assert resolve("postgres://user:pw@%2Fvar%2Frun%2Fdb/dbname")["HOST"] == "/var/run/db"
    assert resolve("mysql://u:p@h/d?ssl-ca=%2Fetc%2Fca.pem")["OPTIONS"] == {
        "ssl": {"ca": "/etc/ca.pem"}}
    assert resolve("postgres://u:p@h/d?currentSchema=rep")["OPTIONS"] == {
        "options": "-c search_path=rep"}
    assert resolve("postgres://u:p@h/d?connect_timeout=10&keepalives=true")["OPTIONS"] == {
        "connect_timeout": 10, "keepalives": True}
    assert resolve("oracle://u:p@h:1521/d")["PORT"] == "1521"
    assert resolve("sqlite://:memory:")["NAME"] == ":memory:"
    assert resolve("sqlite://")["NAME"] == ":memory:"


def test_unix_socket_directory_keeps_its_case() -> None:
    # dj-database-url lower-cases the host (urlsplit does); a directory is case-sensitive.
    assert resolve("postgres://u@%2FVar%2FRun%2FPostgreSQL/app")["HOST"] == "/Var/Run/PostgreSQL"
    assert resolve("postgres://u:pw@%2FSock:5433/app")["PORT"] == 5433


def test_surrounding_whitespace_is_ignored() -> None:
    assert resolve("  postgres://u:p@h/app \n")["NAME"] == "app"


# -- reserved parameters -----------------------------------------------------------------


def test_reserved_parameters_are_taken_out_of_options_and_applied() -> None:
    config = resolve(
        "postgres://u:p@h/app?conn_max_age=600&conn_health_checks=true&atomic_requests=yes"
        "&disable_server_side_cursors=1&sslmode=require"
    )
    assert config["OPTIONS"] == {"sslmode": "require"}
    assert config["CONN_MAX_AGE"] == 600
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["ATOMIC_REQUESTS"] is True
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_reserved_parameters_default_to_djangos_defaults() -> None:
    config = resolve("mysql://u:p@h/app?charset=utf8mb4")
    assert config["OPTIONS"] == {"charset": "utf8mb4"}
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"], config["ATOMIC_REQUESTS"],
            config["DISABLE_SERVER_SIDE_CURSORS"]) == (0, False, False, False)


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", 0), ("600", 600), ("none", None), ("None", None), ("007", 7)]
)
def test_conn_max_age_values(raw: str, expected: int | None) -> None:
    assert resolve(f"postgres://u:p@h/app?conn_max_age={raw}")["CONN_MAX_AGE"] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("yes", True), ("no", False),
     ("TRUE", True), ("No", False)],
)
@pytest.mark.parametrize(
    "name", ["conn_health_checks", "atomic_requests", "disable_server_side_cursors"]
)
def test_boolean_parameters_accept_exactly_the_documented_spellings(
    name: str, raw: str, expected: bool
) -> None:
    assert resolve(f"sqlite:///app.db?{name}={raw}")[name.upper()] is expected


@pytest.mark.parametrize("raw", ["on", "off", "t", "2", "", "truee", "-1"])
def test_boolean_parameters_reject_anything_else(raw: str) -> None:
    (message,) = problems_for(f"sqlite:///app.db?atomic_requests={raw}")
    assert message.startswith("parameter atomic_requests is not a boolean;")


@pytest.mark.parametrize("raw", ["-1", "1.5", "forever", "", "%2B5", "5s", "٣"])
def test_conn_max_age_rejects_anything_but_whole_seconds_or_none(raw: str) -> None:
    (message,) = problems_for(f"postgres://u:p@h/app?conn_max_age={raw}")
    assert message.startswith("parameter conn_max_age is not a number of seconds;")


def test_every_bad_parameter_of_one_url_is_reported() -> None:
    messages = problems_for("postgres://u:p@h/app?conn_max_age=x&read_only=y&pool=z")
    assert len(messages) == 3
    assert {message.split()[1] for message in messages} == {"conn_max_age", "read_only", "pool"}


def test_reserved_parameter_given_twice_is_an_error() -> None:
    (message,) = problems_for("postgres://u:p@h/app?conn_max_age=1&conn_max_age=2")
    assert "conn_max_age is given 2 times" in message


def test_reserved_parameter_in_upper_case_is_an_error_not_a_driver_option() -> None:
    (message,) = problems_for("mysql://u:p@h/app?READ_ONLY=true")
    assert "write it in lower case: read_only" in message


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("postgres://u:p@h/app?sslmod=require", "sslmode"),
        ("postgres://u:p@h/app?readonly=true", "read_only"),
        ("mysql://u:p@h/app?conn_max_ag=60", "conn_max_age"),
        ("sqlite:///app.db?read_onyl=true", "read_only"),
    ],
)
def test_a_typo_of_a_known_parameter_is_an_error(url: str, suggestion: str) -> None:
    (message,) = problems_for(url)
    assert message.endswith(f"did you mean {suggestion}?")


def test_unknown_driver_options_pass_through_untouched() -> None:
    assert resolve("mysql://u:p@h/app?init_command=SET%20x%3D1&charset=utf8")["OPTIONS"] == {
        "init_command": "SET x=1", "charset": "utf8"}


# -- read_only -------------------------------------------------------------------------


def test_read_only_marks_the_alias_and_sets_the_postgresql_session_flag() -> None:
    settings = load({
        "DATABASE_URL": "sqlite:///main.db",
        "DATABASE_URL_ANALYTICS": "postgres://reader:pw@warehouse/analytics?read_only=true"
                                  "&connect_timeout=10",
        "SECRET_KEY": SECRET_KEY,
    })
    assert settings.READ_ONLY_DATABASES == frozenset({"analytics"})
    assert settings.DATABASES["analytics"]["OPTIONS"] == {
        "connect_timeout": 10, "options": "-c default_transaction_read_only=on"}


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("options=-c%20statement_timeout%3D5000",
         "-c statement_timeout=5000 -c default_transaction_read_only=on"),
        ("currentSchema=reporting", "-c search_path=reporting -c default_transaction_read_only=on"),
    ],
)
def test_read_only_merges_with_the_options_the_url_already_has(query: str, options: str) -> None:
    config = resolve(f"postgres://u:p@h/app?{query}&read_only=true")
    assert config["OPTIONS"]["options"] == options


@pytest.mark.parametrize("scheme", POSTGRES_LIKE)
def test_read_only_applies_to_every_postgresql_backend(scheme: str) -> None:
    config = resolve(f"{scheme}://u:p@h/app?read_only=1")
    assert config["OPTIONS"]["options"] == "-c default_transaction_read_only=on"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("sqlite:///app.db?read_only=yes", {}),  # PRAGMA query_only, set when a connection opens
        ("mysql://u:p@h/app?read_only=true", {"init_command": "SET SESSION TRANSACTION READ ONLY"}),
        ("mysql://u:p@h/app?read_only=true&init_command=SET+sql_mode%3D%27STRICT_ALL_TABLES%27",
         {"init_command": "SET sql_mode='STRICT_ALL_TABLES'; SET SESSION TRANSACTION READ ONLY"}),
    ],
)
def test_read_only_on_other_engines(url: str, options: dict[str, str]) -> None:
    settings = load({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY})
    assert settings.READ_ONLY_DATABASES == frozenset({"default"})
    assert settings.DATABASES["default"]["OPTIONS"] == options


def test_read_only_false_is_an_ordinary_alias() -> None:
    settings = load({"DATABASE_URL": "postgres://u:p@h/app?read_only=false", "SECRET_KEY": "k"})
    assert settings.READ_ONLY_DATABASES == frozenset()
    assert settings.DATABASES["default"]["OPTIONS"] == {}


# -- pool --------------------------------------------------------------------------------

needs_pool_support = pytest.mark.skipif(
    django.VERSION < (5, 1), reason="Django's connection pool needs Django 5.1+"
)


@needs_pool_support
def test_pool_on_postgresql_goes_to_options() -> None:
    assert resolve("postgres://u:p@h/app?pool=true")["OPTIONS"] == {"pool": True}
    assert "pool" not in resolve("postgres://u:p@h/app?pool=false")["OPTIONS"]


@needs_pool_support
def test_pool_with_explicit_conn_max_age_zero_is_allowed() -> None:
    assert resolve("postgres://u:p@h/app?pool=true&conn_max_age=0")["CONN_MAX_AGE"] == 0


@needs_pool_support
@pytest.mark.parametrize("conn_max_age", ["600", "none"])
def test_pool_cannot_be_combined_with_persistent_connections(conn_max_age: str) -> None:
    (message,) = problems_for(f"postgres://u:p@h/app?pool=true&conn_max_age={conn_max_age}")
    assert message.startswith("parameter pool cannot be combined with conn_max_age")


@pytest.mark.parametrize("url", ["sqlite:///app.db?pool=true", "mysql://u:p@h/app?pool=yes"])
def test_pool_works_only_with_postgresql(url: str) -> None:
    (message,) = problems_for(url)
    assert message == "parameter pool works only with PostgreSQL; remove it."


@pytest.mark.skipif(django.VERSION >= (5, 1), reason="this Django supports pool")
def test_pool_on_this_django_is_a_clear_error() -> None:
    (message,) = problems_for("postgres://u:p@h/app?pool=true")
    assert message == (
        f"parameter pool needs Django 5.1 or later (this is Django {django.get_version()}); "
        "upgrade Django or remove pool."
    )


def test_pool_on_django_older_than_5_1_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # The version gate is decided once at import; flip it as a Django 4.2 install would,
    # and forget URLs resolved under the real gate (results are cached per URL).
    monkeypatch.setattr(schema_module, "_SUPPORTS_POOL", False)
    schema_module._resolve.cache_clear()
    try:
        (message,) = problems_for("postgres://u:p@h/app?pool=true")
    finally:
        schema_module._resolve.cache_clear()
    assert message.startswith("parameter pool needs Django 5.1 or later")
    assert message.endswith("upgrade Django or remove pool.")


# -- rejections of what the user cannot have meant ---------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://myfile.db", "sqlite:///myfile.db"),
        ("sqlite://user@/app.db", "three slashes"),
        ("spatialite://geo.db", "spatialite:///myfile.db"),
        ("postgres://u:p@h:5432", "has no database name"),
        ("postgres://u:p@h:5432/", "has no database name"),
        ("mysql://u:p@h", "has no database name"),
        ("postgress://u:p@h/app", "did you mean postgres://?"),
        ("nosuchdb://u:p@h/app", "use one of:"),
        ("db.example.com/app", "start it with a scheme"),
        ("postgres://u:p@h:99999/app", "check the port"),
        ("postgres://u:p@h:port/app", "check the port"),
        ("postgres://u:p@[::1/app", "brackets around an IPv6 host"),
        # '#' starts a fragment that dj-database-url silently drops
        ("postgres://u:12#3@h/app", "percent-encode it as %23"),
        ("sqlite:///data#1.db", "percent-encode it as %23"),
        ("postgres://u:p@h/app?sslmode=require#note", "percent-encode it as %23"),
    ],
)
def test_urls_the_user_cannot_have_meant_are_rejected(url: str, expected: str) -> None:
    (message,) = problems_for(url)
    assert expected in message


#: A password that must never appear in a message.
NUL_PASSWORD = "Rv7-NUL-distinctive-pw"


@pytest.mark.parametrize(
    ("url", "part"),
    [
        (f"postgres://app:{NUL_PASSWORD}%00x@db.example.com:5432/main", "the password"),
        (f"postgres://app%00x:{NUL_PASSWORD}@db.example.com:5432/main", "the user name"),
        (f"postgres://app:{NUL_PASSWORD}@db.example.com:5432/ma%00in", "the database name"),
        (f"postgres://app:{NUL_PASSWORD}@db.example.com:5432/main?sslmode=require%00", "a query parameter"),
        (f"postgres://app:{NUL_PASSWORD}@db.example.com:5432/main\x00", "the URL"),
        ("sqlite:///data%00.db", "the database name"),
    ],
)
def test_nul_in_a_url_is_a_config_error(url: str, part: str) -> None:
    # libpq ends the conninfo string at a NUL: everything after it (host, port) was
    # silently dropped, and the connection went to the local unix socket instead.
    with pytest.raises(ConfigError) as caught:
        load({"DATABASE_URL_BLOG_DB": url, "DATABASE_URL": "sqlite:///x.db", "SECRET_KEY": "k"})
    assert list(caught.value.problems) == ["DATABASE_URL_BLOG_DB"]
    assert str(caught.value).startswith(f"DATABASE_URL_BLOG_DB: has a NUL character (%00) in {part};")
    assert NUL_PASSWORD not in str(caught.value)


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


def test_a_postgresql_service_needs_no_database_name() -> None:
    assert resolve("postgres://?service=main")["OPTIONS"] == {"service": "main"}


# -- the resolved options really reach PostgreSQL ----------------------------------------


def probe(env: dict[str, str], sql: str, alias: str = "default") -> tuple[int, dict[str, Any]]:
    result = run(["python", str(PROBE), alias, sql], env={"SECRET_KEY": SECRET_KEY, **env})
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_read_only_alias_refuses_writes_on_postgresql(postgres) -> None:
    name = postgres.create("readonly")
    env = {
        "DATABASE_URL": "sqlite://",
        "DATABASE_URL_ANALYTICS": postgres.url(
            name, "read_only=true&options=-c%20statement_timeout%3D4321"),
    }
    code, shown = probe(env, "SELECT current_setting('default_transaction_read_only'), "
                             "current_setting('statement_timeout')", alias="analytics")
    assert code == 0, shown
    assert shown["rows"] == [["on", "4321ms"]]
    code, shown = probe(env, "CREATE TABLE should_fail (id int)", alias="analytics")
    assert code == 3
    assert "read-only transaction" in shown["message"]


@needs_pool_support
def test_pool_connects_to_postgresql(postgres) -> None:
    name = postgres.create("pool")
    code, shown = probe({"DATABASE_URL": postgres.url(name, "pool=true")}, "SELECT 41 + 1")
    assert code == 0, shown
    assert shown == {"rows": [[42]], "pool": True}
