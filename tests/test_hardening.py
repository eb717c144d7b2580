"""Values that cannot be used end in a ConfigError naming the variable, and never show a secret.

A password written unencoded that starts with ``/`` or with digits and ``/``, bytes that are
not UTF-8 (inline or through ``${VAR}``), numbers of thousands of digits, a driver parameter
given twice: each is refused by ``load()`` (and so by ``python -m djcfg_env check`` and
``manage.py``) with a message that names the variable and never a part of its value.
"""

from __future__ import annotations

import pytest

from djcfg_env import ConfigError, load
from djcfg_env.release.report import Scrubber
from tests.conftest import run

SECRET = "s3cret"


def problems(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load({"SECRET_KEY": "k", **environ})
    error = raised.value
    for text in (str(error), repr(error), str(error.__cause__), str(error.__context__)):
        assert SECRET not in text
    assert error.__cause__ is None
    return error


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://app:/{SECRET}@db/main",            # password starting with '/'
        f"postgres://app:5432/{SECRET}@db/main",        # digits, then '/'
        f"postgres://app:{SECRET}/x@db/main",           # a '/' in the middle
        f"mysql://app:/{SECRET}@db:3306/main",
        f"postgres://app:/{SECRET}%40x@db/main",        # an encoded '@' in the "path"
        "postgres://app:/db/main",                      # a user part with an empty port
    ],
)
def test_a_misplaced_password_is_refused_without_echoing_it(url: str) -> None:
    error = problems({"DATABASE_URL": url})
    (message,) = error.problems["DATABASE_URL"]
    assert "percent-encode" in message and "put the password in a variable" in message.replace(
        "put it in a variable", "put the password in a variable")


def test_an_at_sign_in_a_sqlite_file_path_is_fine() -> None:
    assert load({"SECRET_KEY": "k", "DATABASE_URL": "sqlite:////var/data/a@b.db"}).DATABASES["default"][
        "NAME"] == "/var/data/a@b.db"


@pytest.mark.parametrize(
    ("environ", "variable", "start"),
    [
        ({"DATABASE_URL": f"postgres://app:{SECRET}\udcff@db/main"}, "DATABASE_URL",
         "has bytes that are not UTF-8 text"),
        ({"DATABASE_URL": "postgres://app:${DB_PASSWORD}@db/main", "DB_PASSWORD": f"{SECRET}\udcff"},
         "DATABASE_URL", "refers to DB_PASSWORD, whose value has bytes that are not UTF-8 text"),
        ({"DATABASE_URL": "sqlite://", "DB_ROUTE_BLOG": f"{SECRET}\udcff"}, "DB_ROUTE_BLOG",
         "has bytes that are not UTF-8 text"),
        ({"DATABASE_URL": "sqlite://", "DEBUG": f"{SECRET}\udcff"}, "DEBUG", "has bytes that are not UTF-8 text"),
        ({"DATABASE_URL": "sqlite://", "SECRET_KEY": f"{SECRET}\udcff"}, "SECRET_KEY",
         "has bytes that are not UTF-8 text"),
    ],
)
def test_bytes_that_are_not_utf8_are_a_config_error(environ, variable, start) -> None:
    error = problems(environ)
    assert list(error.problems) == [variable]
    assert error.problems[variable][0].startswith(start)


@pytest.mark.parametrize("parameter", ["conn_max_age", "connect_timeout"])
def test_a_number_of_thousands_of_digits_is_a_config_error(parameter: str) -> None:
    error = problems({"DATABASE_URL": f"postgres://app:{SECRET}@db/main?{parameter}=" + "9" * 5000})
    assert error.problems["DATABASE_URL"] == (
        f"has parameter {parameter} with a number of more than 18 digits; give a real value.",
    )


def test_a_driver_parameter_given_twice_is_a_config_error() -> None:
    error = problems({"DATABASE_URL": f"postgres://app:{SECRET}@db/main?sslmode=disable&sslmode=prefer"})
    assert error.problems["DATABASE_URL"] == ("has parameter sslmode given 2 times; give each parameter once.",)
    unknown = problems({"DATABASE_URL": f"postgres://app:{SECRET}@db/main?x{SECRET}=1&x{SECRET}=2"})
    assert unknown.problems["DATABASE_URL"] == ("has a driver parameter given 2 times; give each parameter once.",)


def test_the_command_line_reports_undecodable_bytes_without_a_traceback() -> None:
    result = run(["python", "-m", "djcfg_env", "check"],
                 env={"DATABASE_URL": "postgres://app:${P}@db/main", "P": f"{SECRET}\udcff", "SECRET_KEY": "k"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    assert "DATABASE_URL: refers to P, whose value has bytes that are not UTF-8 text" in result.stderr


def test_the_scrubber_never_fails_on_undecodable_secrets() -> None:
    scrub = Scrubber({"default": {"PASSWORD": f"{SECRET}\udcff", "OPTIONS": {"sslpassword": "p@ss/\udcfe"}}})
    assert scrub(f"login with {SECRET}\udcff failed; sslpassword p@ss/\udcfe") == (
        "login with *** failed; sslpassword ***"
    )


OPTION_SECRETS = {
    "DATABASE_URL": "postgres://app:pw-0001@db/main?options=-c%20app.token%3Dtok-5551%20-c%20search_path%3Dapp"
                    "&sslpassword=123456789",
    "DATABASE_URL_OTHER": "mysql://app@db/other?init_command=SET%20%40secret_key%20%3D%20%27key-7773%27",
    "SECRET_KEY": "k",
}


@pytest.mark.parametrize("args", [["show"], ["show", "--json"]])
def test_show_masks_secrets_inside_driver_options(args: list[str]) -> None:
    result = run(["python", "-m", "djcfg_env", *args], env=OPTION_SECRETS)
    assert result.returncode == 0, result.stderr
    for secret in ("pw-0001", "tok-5551", "123456789", "key-7773"):
        assert secret not in result.stdout + result.stderr
    assert "app.token=***" in result.stdout and "search_path=app" in result.stdout
    assert "@secret_key = ***" in result.stdout


def test_the_scrubber_masks_secrets_inside_driver_options() -> None:
    from djcfg_env import load

    settings = load(OPTION_SECRETS)
    scrub = Scrubber(settings.DATABASES)
    text = 'invalid value for parameter "app.token": "tok-5551"; sslpassword 123456789; key-7773'
    assert scrub(text) == 'invalid value for parameter "app.token": "***"; sslpassword ***; ***'
