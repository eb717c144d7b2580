"""``${NAME}`` in database URLs: replacement, ``$${`` escapes, percent-encoding, errors.

The decisive test logs in to the real PostgreSQL server as a role whose name
and password contain ``@ : / # ? %``, with Django settings built by ``load()``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from djcfg_env import ConfigError, load
from tests import pg
from tests.conftest import run

SECRET_KEY = "interpolation-secret-key-a7b3"
PROBE = Path(__file__).parent / "core_project" / "probe.py"


def default(url: str, **variables: str) -> dict[str, Any]:
    env = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, **variables}
    return load(env).DATABASES["default"]


def problems(env: dict[str, str]) -> dict[str, tuple[str, ...]]:
    with pytest.raises(ConfigError) as caught:
        load({"SECRET_KEY": SECRET_KEY, **env})
    return dict(caught.value.problems)


# -- replacement -------------------------------------------------------------------------


def test_the_issue_example_resolves() -> None:
    settings = load({
        "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db-main:5432/main?sslmode=require"
                        "&conn_max_age=600",
        "DATABASE_URL_BLOG_DB": "postgres://app:${DB_PASSWORD}@db-blog:5432/blog"
                                "?conn_health_checks=true",
        "DATABASE_URL_ANALYTICS": "postgres://reader:${DB_READONLY_PASSWORD}@warehouse/analytics"
                                  "?read_only=true&connect_timeout=10",
        "DB_PASSWORD": "main pw/with@odd:chars",
        "DB_READONLY_PASSWORD": "ro#pw?%",
        "SECRET_KEY": SECRET_KEY,
    })
    databases = settings.DATABASES
    assert databases["default"]["PASSWORD"] == "main pw/with@odd:chars"
    assert databases["blog_db"]["PASSWORD"] == "main pw/with@odd:chars"
    assert databases["analytics"]["PASSWORD"] == "ro#pw?%"
    assert (databases["default"]["HOST"], databases["default"]["PORT"]) == ("db-main", 5432)
    assert databases["analytics"]["USER"] == "reader"


@pytest.mark.parametrize(
    "password",
    ["p@ss", "p:ss", "p/ss", "p#ss", "p?ss", "p%ss", "p%20ss", "p ss", "p+ss", "p&ss=1",
     "päss-ü€", "@:/#?%", "a@b:c/d#e?f%g", "${NOT_EXPANDED}", "'\"\\", ""],
)
def test_any_password_survives_the_user_info_part(password: str) -> None:
    config = default("postgres://app:${DB_PASSWORD}@db:5432/main", DB_PASSWORD=password)
    assert config["PASSWORD"] == password
    assert (config["USER"], config["HOST"], config["PORT"], config["NAME"]) == (
        "app", "db", 5432, "main")


def test_the_user_is_percent_encoded_too() -> None:
    config = default("postgres://${DB_USER}:${DB_PASSWORD}@db/main",
                     DB_USER="svc@corp:eu/1", DB_PASSWORD="x#y")
    assert (config["USER"], config["PASSWORD"]) == ("svc@corp:eu/1", "x#y")


def test_a_reference_in_the_user_info_is_one_value_not_user_and_password() -> None:
    # Percent-encoding makes the whole value one part: write ${USER}:${PASSWORD}.
    config = default("postgres://${DB_CREDENTIALS}@db/main", DB_CREDENTIALS="app:pw")
    assert (config["USER"], config["PASSWORD"]) == ("app:pw", "")


def test_a_literal_part_of_the_password_is_kept_around_a_reference() -> None:
    config = default("postgres://app:pre-${DB_PASSWORD}-post@db/main", DB_PASSWORD="@/")
    assert config["PASSWORD"] == "pre-@/-post"


def test_outside_the_user_info_values_are_inserted_as_written() -> None:
    config = default(
        "postgres://app:pw@${DB_HOST}/${DB_NAME}?sslmode=${SSL_MODE}",
        DB_HOST="db.internal:6543", DB_NAME="main", SSL_MODE="verify-full",
    )
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 6543, "main")
    assert config["OPTIONS"] == {"sslmode": "verify-full"}


def test_the_whole_url_may_come_from_another_variable() -> None:
    config = default("${HEROKU_POSTGRESQL_URL}",
                     HEROKU_POSTGRESQL_URL="postgres://u:p%40ss@ec2-host:5432/d1")
    assert (config["USER"], config["PASSWORD"], config["NAME"]) == ("u", "p@ss", "d1")


def test_every_alias_is_interpolated() -> None:
    settings = load({
        "DATABASE_URL": "sqlite:///${DATA_DIR}/main.db",
        "DATABASE_URL_BLOG_DB": "sqlite:///${DATA_DIR}/blog.db",
        "DATA_DIR": "var",
        "SECRET_KEY": SECRET_KEY,
    })
    assert settings.DATABASES["default"]["NAME"] == "var/main.db"
    assert settings.DATABASES["blog_db"]["NAME"] == "var/blog.db"


# -- escapes, no nesting, no recursion ---------------------------------------------------


def test_double_dollar_brace_is_a_literal_dollar_brace() -> None:
    assert default("sqlite:///data/$${HOME}.db", HOME="/root")["NAME"] == "data/${HOME}.db"
    assert default("postgres://app:a$${b}@db/main")["PASSWORD"] == "a${b}"


def test_a_dollar_without_a_brace_is_just_a_dollar() -> None:
    assert default("postgres://app:pa$$w$rd@db/main")["PASSWORD"] == "pa$$w$rd"
    assert default("sqlite:///cost$5.db")["NAME"] == "cost$5.db"


def test_replaced_text_is_not_scanned_again() -> None:
    config = default("postgres://app:${OUTER}@db/${OUTER}", OUTER="${INNER}", INNER="never")
    assert config["PASSWORD"] == "${INNER}"
    assert config["NAME"] == "${INNER}"


def test_a_url_referring_to_itself_does_not_loop() -> None:
    found = problems({"DATABASE_URL": "${DATABASE_URL}"})
    assert list(found) == ["DATABASE_URL"]
    assert "is not a database URL" in found["DATABASE_URL"][0]


@pytest.mark.parametrize(
    "url",
    [
        "postgres://app:${${DB_PASSWORD}}@db/main",
        "postgres://app:${DB_${KIND}}@db/main",
        "postgres://app:${}@db/main",
        "postgres://app:${1ST}@db/main",
        "postgres://app:${DB PASSWORD}@db/main",
        "postgres://app:${DB_PASSWORD@db/main",
    ],
)
def test_malformed_or_nested_references_are_errors(url: str) -> None:
    found = problems({"DATABASE_URL": url, "DB_PASSWORD": "pw", "KIND": "X"})
    (message,) = found["DATABASE_URL"]
    assert message.startswith("has a malformed ${...} reference;")


# -- unset references --------------------------------------------------------------------


def test_an_unset_reference_names_both_variables() -> None:
    found = problems({"DATABASE_URL": "sqlite://",
                      "DATABASE_URL_BLOG_DB": "postgres://app:${BLOG_DB_PASSWORD}@db/blog"})
    assert list(found) == ["DATABASE_URL_BLOG_DB"]
    (message,) = found["DATABASE_URL_BLOG_DB"]
    assert message.startswith("refers to BLOG_DB_PASSWORD, which is not set; set BLOG_DB_PASSWORD")
    # the URL's own variable is named by the line's prefix
    with pytest.raises(ConfigError) as caught:
        load({"DATABASE_URL": "postgres://app:${BLOG_DB_PASSWORD}@db/blog", "SECRET_KEY": "k"})
    assert str(caught.value).startswith("DATABASE_URL: refers to BLOG_DB_PASSWORD")


def test_every_unset_reference_is_listed_once() -> None:
    found = problems({"DATABASE_URL": "postgres://${U}:${P}@${H}/${P}"})
    (message,) = found["DATABASE_URL"]
    assert message.startswith("refers to U, P, H, which are not set;")


def test_references_read_only_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJCFG_TEST_ONLY_IN_OS_ENVIRON", "pw")
    found = problems({"DATABASE_URL": "postgres://app:${DJCFG_TEST_ONLY_IN_OS_ENVIRON}@db/m"})
    assert "DJCFG_TEST_ONLY_IN_OS_ENVIRON" in found["DATABASE_URL"][0]


def test_an_empty_value_is_a_set_value() -> None:
    assert default("postgres://app:${EMPTY}@db/main", EMPTY="")["PASSWORD"] == ""


# -- a real login with such a password ----------------------------------------------------

#: Every character that breaks a hand-written URL, in the user name and the password.
AWKWARD_PASSWORD = "Pw@:/#?%&=+ 20%41-" + secrets.token_hex(4)


@pytest.fixture
def awkward_role() -> Iterator[tuple[str, str]]:
    """A login role named and passworded with @ : / # ? %, dropped after the test."""
    pg.require_postgres()
    (can_create,) = pg.execute("SELECT rolcreaterole OR rolsuper FROM pg_roles "
                               "WHERE rolname = current_user")[0]
    if not can_create:
        message = ("the test role may not CREATE ROLE; grant it with "
                   "ALTER ROLE <role> CREATEROLE (as .ci/postgres-up should)")
        if pg.REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    name = f"{pg.RUN_PREFIX}_{secrets.token_hex(3)}@odd:role/#?%"
    quoted_password = AWKWARD_PASSWORD.replace("'", "''")
    pg.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{quoted_password}'")
    try:
        yield name, AWKWARD_PASSWORD
    finally:
        pg.execute(f'DROP ROLE IF EXISTS "{name}"')


def _probe(env: dict[str, str]) -> Any:
    return run(["python", str(PROBE), "default", "SELECT current_user, current_database()"],
               env={"SECRET_KEY": SECRET_KEY, **env})


def test_login_to_postgresql_with_an_awkward_user_and_password(postgres, awkward_role) -> None:
    role, password = awkward_role
    database = postgres.create("interp")
    host = pg._conninfo()
    env = {
        "DATABASE_URL": f"postgres://${{DB_USER}}:${{DB_PASSWORD}}@{host['host']}:{host['port']}"
                        f"/{database}",
        "DB_USER": role,
        "DB_PASSWORD": password,
    }
    result = _probe(env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == [[role, database]]

    # the server really checks the password: a wrong one is refused, and the
    # refusal shows no password
    result = _probe(env | {"DB_PASSWORD": password + "-wrong"})
    assert result.returncode == 3
    shown = json.loads(result.stdout)
    assert "password authentication failed" in shown["message"]
    for output in (result.stdout, result.stderr):
        assert password not in output
