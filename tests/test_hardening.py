"""Values that cannot be used end in a ConfigError naming the variable, and never show a secret.

A password written unencoded that starts with ``/`` or with digits and ``/``, bytes that are
not UTF-8 (inline or through ``${VAR}``), numbers of thousands of digits, a driver parameter
given twice: each is refused by ``load()`` (and so by ``python -m djcfg_env check`` and
``manage.py``) with a message that names the variable and never a part of its value.
"""

from __future__ import annotations

from urllib.parse import quote

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


@pytest.mark.parametrize(
    ("options", "secret", "served"),
    [
        (r"-c app.token=tok;5552 -c search_path=app", "tok;5552", "tok;5552"),      # ';' inside
        (r"-c app.token=tok,5553 -c search_path=app", "tok,5553", "tok,5553"),      # ',' inside
        (r"-c app.token=tok\ 5554 -c search_path=app", r"tok\ 5554", "tok 5554"),  # an escaped space
    ],
)
def test_a_secret_token_with_separators_is_masked_whole(options: str, secret: str, served: str) -> None:
    from djcfg_env import load
    from djcfg_env.env.urls import mask

    settings = load({"DATABASE_URL": "postgres://app@db/main?options=" + quote(options, safe=""), "SECRET_KEY": "k"})
    shown = mask(settings.DATABASES["default"])["OPTIONS"]["options"]
    assert shown == "-c app.token=*** -c search_path=app"
    scrub = Scrubber(settings.DATABASES)
    # The server quotes the value it was given, unescaped: masked however it is written.
    assert "5" not in scrub(f'invalid value for parameter "app.token": "{served}" (from {secret})')


@pytest.mark.parametrize(
    "environ",
    [
        {"DATABASE_URL": f"postgres://app:{SECRET}%FF@db/main"},                     # the password
        {"DATABASE_URL": f"postgres://app:{SECRET}@db/main%E9"},                     # the database name
        {"DATABASE_URL": f"postgres://app:{SECRET}@db/main?application_name=%C3"},   # a cut-off sequence
        {"DATABASE_URL": "sqlite:///caf%E9.db"},                                     # a Latin-1 file name
        {"DATABASE_URL": "${WHOLE}", "WHOLE": f"postgres://app:{SECRET}%FF@db/main"},  # through ${NAME}
    ],
)
def test_a_percent_encoded_byte_that_is_not_utf8_is_a_config_error(environ: dict[str, str]) -> None:
    # dj-database-url would decode it to U+FFFD: another password, name or file than the one meant.
    error = problems(environ)
    (message,) = error.problems["DATABASE_URL"]
    assert message.startswith("has a percent-encoded byte that is not part of UTF-8 text (such as %FF)")


def test_percent_encoded_utf8_is_decoded() -> None:
    from djcfg_env import load

    config = load({"SECRET_KEY": "k", "DATABASE_URL": "postgres://app:s3cr%C3%A9t@db/caf%C3%A9"}).DATABASES["default"]
    assert (config["PASSWORD"], config["NAME"]) == ("s3cr\u00e9t", "caf\u00e9")


def test_show_masks_a_huge_option_value_in_linear_time() -> None:
    # A long run of name characters with no '=' made the masking pattern quadratic: minutes for
    # 100 000 characters, in show, migrate_all and the error page filter.
    env = {"DATABASE_URL": "postgres://app:pw@db/main?options=" + "a" * 100_000 + "%20-c%20app.token%3Dtok-5551",
           "SECRET_KEY": "k"}
    result = run(["python", "-m", "djcfg_env", "show"], env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "app.token=***" in result.stdout and "tok-5551" not in result.stdout


def test_a_reference_in_a_parameter_value_is_one_value() -> None:
    # Put in as it was, an '&' cut the value in two: the tail became a parameter of its own,
    # which show printed unmasked, and a '+' became a space.
    from djcfg_env import load

    environ = {"DATABASE_URL": "postgres://app:pw@db/main?sslpassword=${SSL_PW}&options=-c%20app.token%3D${TOKEN}",
               "SSL_PW": f"{SECRET}&x=1+2%41", "TOKEN": f"t{SECRET}&y", "SECRET_KEY": "k"}
    assert load(environ).DATABASES["default"]["OPTIONS"] == {
        "sslpassword": f"{SECRET}&x=1+2%41", "options": f"-c app.token=t{SECRET}&y"}
    result = run(["python", "-m", "djcfg_env", "show"], env=environ)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout and "sslpassword=***, options=-c app.token=***" in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://app:5432/x?{SECRET}@db/main",    # digits, '/', then '?' in the password
        f"postgres://app:5432/x?a={SECRET}@db/main",  # ... which read 'a' as a driver option
        f"mysql://app:3306/x?a=b&{SECRET}@db/main",
    ],
)
def test_a_misplaced_password_cut_by_a_question_mark_is_refused(url: str) -> None:
    # The tail of the password would have been a driver option, printed as it is by show.
    error = problems({"DATABASE_URL": url})
    (message,) = error.problems["DATABASE_URL"]
    assert message.startswith("looks like a password with an unencoded '/' or '@' (an '@' after the host part")


def test_an_at_sign_in_a_parameter_value_of_a_url_with_a_user_is_fine() -> None:
    from djcfg_env import load

    config = load({"SECRET_KEY": "k", "DATABASE_URL": "postgres://app:pw@db/main?application_name=me@host"})
    assert config.DATABASES["default"]["OPTIONS"] == {"application_name": "me@host"}


@pytest.mark.parametrize("host", ["x[::1]y", "[::1]y", "x[::1]", "x[::1]:5432"])
def test_text_around_the_brackets_of_an_ipv6_host_is_refused(host: str) -> None:
    # urlsplit (and so dj-database-url) reads x[::1]y as ::1: another server, without a word.
    error = problems({"DATABASE_URL": f"postgres://app:{SECRET}@{host}/main"})
    (message,) = error.problems["DATABASE_URL"]
    assert message.startswith("cannot be read as a URL; check the port (a number from 0 to 65535) and the brackets")


@pytest.mark.parametrize("character", ["\t", "\n", "\r"])
def test_a_tab_or_line_break_inside_a_url_is_refused(character: str) -> None:
    # urlsplit deletes them: the password s3<TAB>cret would silently be s3cret.
    error = problems({"DATABASE_URL": f"postgres://app:{SECRET[:2]}{character}{SECRET[2:]}@db/main\n"})
    (message,) = error.problems["DATABASE_URL"]
    assert message.startswith("has a tab or a line break inside it")
    from djcfg_env import load

    encoded = load({"SECRET_KEY": "k", "DATABASE_URL": "postgres://app:s3%09cret@db/main\n"})
    assert encoded.DATABASES["default"]["PASSWORD"] == "s3\tcret"
