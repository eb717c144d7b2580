"""No secret on Django's error page, in its error mails, or in migrate_all's error text.

End to end: ``tests/report_project`` (settings: ``from djcfg_env.settings import *``)
on a real PostgreSQL database, with a login role of its own whose password
comes from ``${DB_PASSWORD}``, a secret inside ``options``, an int
``sslpassword``, and a second alias with a one-character wrong password. Its
``render.py`` makes views fail through Django's test client with DEBUG on (the
HTML page and the text one) and off (the report ``AdminEmailHandler`` mails),
with ``request.META`` holding the whole environment as under ``runserver``;
one run per module, every test reads its JSON. In process: the reporter and
its filter on hostile values (short secrets, numbers, big values, chained
exceptions), and the scrubber ``migrate_all`` uses.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from django.test import override_settings

from djcfg_env.release.report import Scrubber
from djcfg_env.reporting import SecretsExceptionReporter, SecretsExceptionReporterFilter
from tests import pg
from tests.conftest import run

PROJECT = Path(__file__).parent / "report_project"
CORE_PROJECT = Path(__file__).parent / "core_project"

PASSWORD = "Rp-Secret'&<>\"/@:-" + secrets.token_hex(3)  # needs every kind of escaping
TOKEN = "tok-Report-" + secrets.token_hex(3)
SSL_PASSWORD = "918273645"  # an int once dj-database-url has parsed it
SECRET_KEY = "sk-Report-" + secrets.token_hex(4)
SHORT_PASSWORD = "Ω"  # the wrong, one-character password of the alias "wrong"
SHORT_SSL_PASSWORD = "97"
LONG_SECRETS = (PASSWORD, TOKEN, SSL_PASSWORD, SECRET_KEY)
CLEANSED = "********************"


def spellings(secret: str) -> set[str]:
    """The ways a page, a mail or a log could show ``secret``."""
    inner = repr(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        re.sub("%[0-9A-F]{2}", lambda match: match.group().lower(), quote(secret, safe="")),
        html.escape(secret),
        html.escape(secret, quote=False),
        inner,
        html.escape(inner),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


#: A short secret is looked for where it stands as a value (it is also a character of other text).
SHORT_SHOWN = re.compile(
    rf"sslpassword\W{{0,12}}{SHORT_SSL_PASSWORD}(?!\d)|[=:]\s?{SHORT_SSL_PASSWORD}(?!\d)"
    r"|Ω|%CE%A9|%ce%a9|\\u03a9"
)


def assert_no_secret(text: str, where: str) -> None:
    for secret in LONG_SECRETS:
        for spelling in spellings(secret):
            assert spelling not in text, f"{where} shows a secret spelt {spelling!r}"
    shown = SHORT_SHOWN.search(text)
    assert shown is None, (
        f"{where} shows a short secret: {text[max(0, shown.start() - 60) : shown.end() + 20]!r}"
    )


# -- the project, once per module ---------------------------------------------------------


@pytest.fixture(scope="module")
def role() -> Iterator[tuple[str, str]]:
    """A login role with the distinctive password, and a database it can use; dropped after."""
    pg.require_postgres()
    name = f"{pg.RUN_PREFIX}_report_{secrets.token_hex(2)}"
    quoted = PASSWORD.replace("'", "''")
    pg.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{quoted}'")
    databases = pg.PostgresDatabases()
    try:
        yield name, databases.create("report")
    finally:
        databases.drop_all()
        pg.execute(f'DROP ROLE IF EXISTS "{name}"')


def environment(role: str, database: str) -> dict[str, str]:
    where = f"{pg._conninfo()['host']}:{pg._conninfo()['port']}/{database}"
    return {
        "DATABASE_URL": f"postgres://{role}:${{DB_PASSWORD}}@{where}"
        f"?options=-c%20app.token%3D{TOKEN}&sslpassword={SSL_PASSWORD}"
        "&application_name=report-app",
        # the whole URL from another variable, as a Heroku add-on gives it
        "DATABASE_URL_WRONG": "${WRONG_URL}",
        "WRONG_URL": f"postgres://{role}:{quote(SHORT_PASSWORD)}@{where}?sslpassword={SHORT_SSL_PASSWORD}",
        "DB_PASSWORD": PASSWORD,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "true",
        "ALLOWED_HOSTS": "testserver",
    }


def render(env: dict[str, str], *pages: str) -> dict[str, Any]:
    result = run(["python", "render.py", *pages], env=env, cwd=PROJECT, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def shown(role: tuple[str, str]) -> dict[str, Any]:
    """What Django showed for each failing view: pages, texts and mails."""
    return render(environment(*role))


PAGES = ("query", "connect", "echo")


def test_the_settings_module_installs_the_filter_and_the_reporter(shown: dict[str, Any]) -> None:
    assert shown["filter"] == "djcfg_env.reporting.SecretsExceptionReporterFilter"
    assert shown["filter_used"] == "SecretsExceptionReporterFilter"
    assert shown["reporter_used"] == "SecretsExceptionReporter"


@pytest.mark.parametrize("kind", ["html", "text"])
@pytest.mark.parametrize("page", PAGES)
def test_the_debug_page_shows_no_secret(
    shown: dict[str, Any], role: tuple[str, str], page: str, kind: str
) -> None:
    text = shown[f"{page}_{kind}"]
    assert shown[f"{page}_{kind}_status"] == 500
    assert_no_secret(text, f"the {kind} page of /{page}/")
    # ... and stays useful: the role, database, host, the options' names, the variables' names.
    plain = html.unescape(text)
    user, database = role
    for useful in (
        user,
        database,
        "127.0.0.1",
        "app.token=",
        "report-app",
        "DATABASE_URL_WRONG",
        "DB_PASSWORD",
        "ALLOWED_HOSTS",
        "reportproj.urls",
    ):
        assert useful in plain, useful
    # the raw variables (and those their ${NAME} refer to) are hidden whole in request.META
    for variable in ("DATABASE_URL", "DATABASE_URL_WRONG", "WRONG_URL", "DB_PASSWORD", "SECRET_KEY"):
        if kind == "text":
            meta = plain[plain.index("META:") :]
            assert re.search(rf"^{variable} = '{re.escape(CLEANSED)}'$", meta, re.M), variable
        else:
            shown_as = re.search(rf"<td>{variable}</td>\s*<td class=\"code\"><pre>(.*?)</pre>", plain, re.S)
            assert shown_as is not None and shown_as.group(1) == f"'{CLEANSED}'", variable
    assert "PATH_INFO" in plain and f"/{page}/" in plain


@pytest.mark.parametrize("page", PAGES)
def test_the_error_mail_shows_no_secret(shown: dict[str, Any], role: tuple[str, str], page: str) -> None:
    (mail,) = shown[f"{page}_mail"]
    assert mail["html"], "AdminEmailHandler(include_html=True) attaches the HTML page"
    for part in (mail["subject"], mail["body"], *mail["html"]):
        assert_no_secret(part, f"the mail about /{page}/")
    assert f"Internal Server Error: /{page}/" in mail["subject"]
    assert role[0] in mail["body"]


def test_a_failed_login_shows_conninfo_and_conn_params_without_the_password(
    shown: dict[str, Any], role: tuple[str, str]
) -> None:
    page = html.unescape(shown["connect_html"])
    assert f'password authentication failed for user "{role[0]}"' in page
    # psycopg's conninfo text and Django's conn_params dict, with only the secrets masked
    conninfo = re.search(r"<td>conninfo</td>\s*<td class=\"code\"><pre>(.*?)</pre>", page, re.S)
    assert conninfo is not None
    assert f"password={CLEANSED}" in conninfo.group(1) and f"user={role[0]}" in conninfo.group(1)
    assert f"sslpassword={CLEANSED}" in conninfo.group(1)
    conn_params = re.search(r"<td>conn_params</td>\s*<td class=\"code\"><pre>(.*?)</pre>", page, re.S)
    assert conn_params is not None
    assert f"'password': '{CLEANSED}'" in conn_params.group(1)
    assert "'host': '127.0.0.1'" in conn_params.group(1)


def test_the_exception_message_and_posted_data_are_masked(shown: dict[str, Any]) -> None:
    text = shown["echo_text"]
    assert f"cannot use '{CLEANSED}'" in text
    assert "other = ['plain']" in text or "other = 'plain'" in text
    query = shown["query_text"]
    assert f"Request URL: http://testserver/query/?next=/home&q={CLEANSED}" in query


def test_a_filter_chosen_after_the_star_import_is_used(role: tuple[str, str]) -> None:
    env = environment(*role) | {
        "PROJECT_EXCEPTION_REPORTER_FILTER": "django.views.debug.SafeExceptionReporterFilter"
    }
    shown = render(env, "echo")
    assert shown["filter_used"] == "SafeExceptionReporterFilter"
    assert shown["reporter_used"] == "SecretsExceptionReporter"
    # Django's own filter misses the token inside OPTIONS; the reporter's last pass still masks it.
    assert f"app.token={CLEANSED}" in html.unescape(shown["echo_html"])
    assert_no_secret(shown["echo_html"], "the page with Django's filter")


# -- migrate_all: a driver that quotes a short secret ---------------------------------------------


def test_migrate_all_never_prints_a_short_secret(role: tuple[str, str]) -> None:
    user, database = role
    where = f"{pg._conninfo()['host']}:{pg._conninfo()['port']}/{database}"
    env = {
        # the server quotes a bad option value: here a two-character value of a secret-looking name
        "DATABASE_URL": f"postgres://{user}:${{DB_PASSWORD}}@{where}?options=-c%20password_encryption%3Dzq",
        "DATABASE_URL_WRONG": f"postgres://{user}:{quote(SHORT_PASSWORD)}@{where}?sslpassword={SHORT_SSL_PASSWORD}",
        "DB_PASSWORD": PASSWORD,
        "SECRET_KEY": SECRET_KEY,
    }
    result = run(["python", "manage.py", "migrate_all", "--keep-going"], env=env, cwd=CORE_PROJECT)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert_no_secret(output, "migrate_all's output")
    assert '"zq"' not in output and "=zq" not in output
    assert 'invalid value for parameter "password_encryption": "***"' in output
    assert f'password authentication failed for user "{user}"' in output


# -- in process: the reporter and its filter on hostile values -----------------------------------


class _Holder:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __repr__(self) -> str:
        return f"<Holder dsn='host=db password={self.secret}'>"


def _fail(
    url: Any = None,
    conninfo: Any = None,
    number: Any = None,
    ssl_options: Any = None,
    holder: Any = None,
    message: str = "failed",
    cause: str = "cause",
    note: str = "",
    port: Any = None,
    keys: Any = None,
    big: Any = None,
    many: Any = None,
    raw: Any = None,
    cache: Any = None,
    request: Any = None,
) -> None:
    """Fails with its arguments as locals, a message, a chained cause and a note."""
    try:
        raise KeyError(cause)
    except KeyError as error:
        failure = RuntimeError(message)
        failure.add_note(f"note: {note}")
        raise failure from error


def _report(kind: str = "text", **arguments: Any) -> str:
    """The report (as AdminEmailHandler makes it) of :func:`_fail` called with ``arguments``."""
    try:
        _fail(**arguments)
    except RuntimeError:
        reporter = SecretsExceptionReporter(None, *sys.exc_info())
        return reporter.get_traceback_html() if kind == "html" else reporter.get_traceback_text()
    raise AssertionError("_fail() did not fail")


@pytest.mark.parametrize("kind", ["text", "html"])
def test_the_reporter_masks_short_secrets_of_every_type_where_they_are_values(kind: str) -> None:
    with override_settings(SECRET_KEY_FALLBACKS=["Ω", 42, "k", "Fallback-Secret-9"]):
        report = _report(
            kind,
            url="postgres://app:%CE%A9@db/main",
            conninfo="host=db user=app password=k sslpassword=42",
            number=42,
            ssl_options={"sslpassword": 42, "sslmode": "require"},
            holder=_Holder("Fallback-Secret-9"),
            message="login with 'Ω' refused, sslpassword 42",
            cause="Fallback-Secret-9",
            note="password: k",
            port=5432,
            keys=["k"],
        )
    plain = html.unescape(report)
    for shown in (
        "Ω",
        "%CE%A9",
        "password=k",
        "sslpassword=42",
        "'sslpassword': 42",
        "number = 42",
        "Fallback-Secret-9",
        "password: k",
        "['k']",
        "sslpassword 42",
    ):
        assert shown not in plain, shown
    kept = ["refused, sslpassword", "note: password: "]
    if kind == "html":  # the text report has no local variables
        kept += ["host=db user=app password=", "'sslmode': 'require'", "5432", "postgres://app:", "@db/main"]
    for useful in kept:
        assert useful in plain, useful


def test_a_long_value_is_masked_before_django_trims_it() -> None:
    secret = "Trimmed-Secret-4d4d"
    big = "x" * 4090 + secret + "y" * 2000  # Django cuts shown values at 4096 characters
    with override_settings(SECRET_KEY_FALLBACKS=[secret]):
        report = _report("html", big=big, many=[secret] * 1500, raw=secret.encode())
    assert "Trimme" not in report  # neither whole nor cut
    assert "many" in report and "raw" in report


def test_the_filter_masks_database_options_django_misses() -> None:
    reporter_filter = SecretsExceptionReporterFilter()
    databases = {
        "default": {
            "PASSWORD": "x",
            "OPTIONS": {
                "options": "-c app.token=Tok-Inline-1 -c search_path=app",
                "dsn": "host=db password='Dsn Pw-2' dbname=main",
                "sslpassword": 42,
                "credentials": ["a", "b"],
                "application_name": "shop",
            },
        }
    }
    cleansed = reporter_filter.cleanse_setting("DATABASES", databases)["default"]
    options = cleansed["OPTIONS"]
    assert cleansed["PASSWORD"] == CLEANSED
    assert options["options"] == f"-c app.token={CLEANSED} -c search_path=app"
    assert options["dsn"] == f"host=db password={CLEANSED} dbname=main"
    assert options["sslpassword"] == CLEANSED
    assert options["credentials"] == CLEANSED
    assert options["application_name"] == "shop"


# -- the scrubber migrate_all prints through -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'invalid value for parameter "password_encryption": "zq"',
            'invalid value for parameter "password_encryption": "***"',
        ),
        ("postgres://app:x@db/main", "postgres://app:***@db/main"),
        ("postgres%3A%2F%2Fapp%3Ax%40db", "postgres%3A%2F%2Fapp%3A***%40db"),
        ("sslpassword=42 port=5432 connect_timeout=10", "sslpassword=*** port=5432 connect_timeout=10"),
        ("{'password': 'x', 'sslpassword': 42}", "{'password': '***', 'sslpassword': ***}"),
        ("x", "***"),
        (" 42\n", "***"),
        ("a box of xylophones: x-ray", "a box of xylophones: x-ray"),
        ("the password is x.", "the password is x."),
        ("password: x.", "password: ***."),
        ("port 4242 and 42nd street", "port 4242 and 42nd street"),
        ("password x was refused", "password *** was refused"),
        ("password is &quot;x&quot;", "password is &quot;***&quot;"),
        ("don't x", "don't x"),
    ],
)
def test_the_scrubber_masks_short_secrets_where_they_are_values(text: str, expected: str) -> None:
    scrub = Scrubber(
        {"default": {"PASSWORD": "x", "OPTIONS": {"sslpassword": 42, "options": "-c password_encryption=zq"}}}
    )
    assert scrub(text) == expected


def test_the_scrubber_masks_long_secrets_however_they_are_written() -> None:
    secret = "Pw/@:'&\" é-77"
    scrub = Scrubber({"default": {"PASSWORD": secret}})
    for spelling in spellings(secret) | {quote(secret, safe="").replace("%2F", "%2f"), "Pw%2F@:'&\" é-77"}:
        assert scrub(f"<{spelling}>") == "<***>", spelling


def test_diffsettings_prints_secrets_as_the_docs_say() -> None:
    """docs/configuration.md, "What is protected": diffsettings is not covered, and says so."""
    env = {
        "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db/main?options=-c%20app.token%3DTok-Diff-3"
        "&sslpassword=123456",
        "DB_PASSWORD": "Pw-Diff-1",
        "SECRET_KEY": "Sk-Diff-2",
    }
    result = run(["python", "manage.py", "diffsettings"], env=env, cwd=PROJECT)
    assert result.returncode == 0, result.stderr
    for shown in (
        "'PASSWORD': 'Pw-Diff-1'",
        "'options': '-c app.token=Tok-Diff-3'",
        "'sslpassword': 123456",
        "SECRET_KEY = 'Sk-Diff-2'",
    ):
        assert shown in result.stdout
    docs = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    assert "`manage.py diffsettings` prints the settings as they are" in docs


def test_every_part_of_the_request_is_masked() -> None:
    from django.test import RequestFactory

    secret = "Request-Secret-7e7e"
    request = RequestFactory().post(
        f"/reset/{secret}/?token={secret}&page=2",
        {"field": f"about {secret}", "pin": "Ω", "comment": "kept"},
        HTTP_X_FORWARDED_USER=secret,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_COOKIE=f"theme=dark; sid={secret}",
    )
    with override_settings(SECRET_KEY_FALLBACKS=[secret, "Ω"]):
        try:
            _fail(cache={f"postgres://app:{secret}@db/main": "connection"}, request=request)
        except RuntimeError:
            reporter = SecretsExceptionReporter(request, *sys.exc_info())
            pages = {"html": reporter.get_traceback_html(), "text": reporter.get_traceback_text()}
    for kind, page in pages.items():
        plain = html.unescape(page)
        assert secret not in plain and "Ω" not in plain, kind
        for kept in (
            "page",
            "theme",
            "dark",
            "comment",
            "kept",
            "/reset/",
            "HTTP_X_FORWARDED_USER",
            "postgres://app:",
        ):
            assert kept in plain, (kind, kept)
