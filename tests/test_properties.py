"""Property-based tests of ``load()``: thousands of generated environments, two properties.

1. Whatever the environment (valid and hostile pieces mixed: odd variable names, URLs of every
   scheme with unencoded or percent-encoded passwords, surrogate-escaped bytes, huge numbers,
   repeated parameters, ``${VAR}`` references that are missing, recursive or not UTF-8),
   ``load()`` returns a ``Settings`` or raises a ``ConfigError``, nothing else; and no secret
   (password, SECRET_KEY, secret driver option, a value a password is read from) appears in the
   error's text, repr, chain or traceback, nor in ``repr(settings)``, ``mask()`` or what
   ``python -m djcfg_env check|show`` prints.
2. For well-formed URLs (generated, and the real-world URLs of dj-database-url's own test suite),
   whenever ``dj_database_url.parse(url)`` accepts a URL, ``load()`` builds the same connection
   (ENGINE, NAME, USER, PASSWORD, HOST, PORT, OPTIONS) up to the differences docs/configuration.md
   documents, or refuses it with a ConfigError whose message is one of the documented rejections.

Secrets are drawn in two shapes. A long secret has ``qZ`` and ``Zq`` around a hostile body
without ASCII letters (after a prefix such as ``5432/`` that reads as a port and a path), so a
leak of either end is found exactly (no message has ``qZ`` or ``Zq`` in it). A short one (one or two characters, or empty) cannot be searched for in a
message; instead the error must not change when every ASCII letter of every secret is swapped
(the "twin" environment), wherever the secret cannot change how the URL reads.

Runs derandomized (a fixed seed per test: CI is reproducible), about two thousand examples in
all (900 environments, 1000 URLs). ``DJCFG_HYPOTHESIS_EXAMPLES=20000`` runs that many per property
with fresh random seeds instead (docs/development.md).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import dj_database_url
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from djcfg_env import ConfigError, Settings, load
from djcfg_env.__main__ import _describe, _print_human, _report_problems
from djcfg_env.env.schema import MYSQL_READ_ONLY_COMMAND, POSTGRES_READ_ONLY_OPTION
from djcfg_env.env.urls import RESERVED_PARAMETERS, is_postgresql, mask

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION_DOCS = ROOT / "docs" / "configuration.md"

# -- how many examples ---------------------------------------------------------------------

_MORE = int(os.environ.get("DJCFG_HYPOTHESIS_EXAMPLES") or 0)


def _settings(examples: int) -> settings:
    """A fixed seed and ``examples`` examples, or ``DJCFG_HYPOTHESIS_EXAMPLES`` random ones."""
    return settings(
        max_examples=_MORE or examples,
        derandomize=not _MORE,
        database=None if not _MORE else settings.default.database,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


# -- secrets -------------------------------------------------------------------------------

START, END = "qZ", "Zq"
#: What a long secret's body is made of: every character that means something in a URL or to
#: ``${...}``, digits, whitespace, non-ASCII text, a surrogate-escaped byte. No ASCII letter, so
#: ``qZ``/``Zq`` appear only at the ends and a ``${NAME}`` in the body names no real variable.
HOSTILE = "/@:#?%${}&=;,+!*'()[]\\ ~_-.0123456789\t\n\u00e9\u00df\u5bc6\u202e\u00a0\udcff\x00"
SHORT_ALPHABET = "ab/@:#?%${}&=;1 9\u00e9\udcff"


#: A token inside an option's text (``options=-c app.token=...``) ends at unescaped whitespace, for
#: the driver as for the masking (djcfg_env.env.urls._EMBEDDED), so that is left out of such a token.
EMBEDDABLE = "".join(c for c in HOSTILE if not c.isspace())


#: What a long secret may start with before its marker: the shapes that read as a port and a path.
PREFIXES = st.sampled_from(["", "", "", "/", "5432/", "1/", "5432/x?a="])


def long_secrets(alphabet: str = HOSTILE) -> st.SearchStrategy[str]:
    body = st.text(st.sampled_from(alphabet), min_size=0, max_size=12)
    return st.builds(lambda prefix, body: prefix + START + body + END, PREFIXES, body)


def short_secrets() -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(SHORT_ALPHABET), min_size=0, max_size=2)


SECRETS = st.one_of(long_secrets(), short_secrets())
#: Secrets that are valid text: what calm environments use.
CALM_LONG_SECRETS = long_secrets(HOSTILE.replace("\udcff", "").replace("\x00", ""))
CALM_SECRETS = st.one_of(CALM_LONG_SECRETS, short_secrets().filter(lambda text: "\udcff" not in text))
EMBEDDED_SECRETS = long_secrets(EMBEDDABLE)
CALM_EMBEDDED_SECRETS = long_secrets(EMBEDDABLE.replace("\udcff", "").replace("\x00", ""))


def twin(secret: str) -> str:
    """``secret`` with every ASCII letter replaced by another one; the rest kept."""
    return "".join(
        chr((ord(c) - base + 1) % 26 + base) if c.isascii() and c.isalpha() else c
        for c in secret
        for base in [ord("a") if c.islower() else ord("A")]
    )


# -- environments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A secret put somewhere: ``raw`` (as it is), ``encoded`` (percent-encoded) or through
    ``${variable}``; ``userinfo`` says whether it sits before the ``@`` of a URL."""

    text: str
    how: str
    userinfo: bool = False
    variable: str = ""


Piece = str | Secret


@dataclass
class Drawn:
    """A generated environment, as pieces (text and secrets) per variable."""

    values: dict[str, list[Piece]] = field(default_factory=dict)
    #: Every part valid (each secret percent-encoded or referenced where it is used).
    calm: bool = False

    def render(self, swap: Callable[[str], str] = lambda text: text) -> dict[str, str]:
        environ: dict[str, str] = {}
        for variable, pieces in self.values.items():
            text = []
            for piece in pieces:
                if isinstance(piece, str):
                    text.append(piece)
                    continue
                value = swap(piece.text)
                if piece.how == "reference":
                    environ[piece.variable] = value
                    text.append("${" + piece.variable + "}")
                elif piece.how == "encoded":
                    text.append(quote(value, safe="", errors="surrogateescape"))
                else:
                    text.append(value)
            environ[variable] = "".join(text)
        return environ

    def reshapes(self) -> bool:
        """Whether a secret may change how a URL reads (then the twin may read differently)."""
        for variable, pieces in self.values.items():
            for piece in pieces:
                if not isinstance(piece, Secret) or variable == "SECRET_KEY":
                    continue
                # Through ${NAME} (only in the user-info part and in parameter values here) a
                # value is percent-encoded, as with "encoded": it cannot change how the URL reads.
                if piece.how == "raw":
                    return True
        return False


SCHEMES = sorted(dj_database_url.ENGINE_SCHEMES)
HUGE = "9" * 5000


@dataclass(frozen=True)
class Pool:
    """Values for one part: ``calm`` ones that are valid, and ``hostile`` ones added to them."""

    calm: tuple[str, ...]
    hostile: tuple[str, ...] = ()

    def __call__(self, calm: bool) -> tuple[str, ...]:
        return self.calm if calm else self.calm + self.hostile


SCHEME_POOL = Pool(
    tuple(scheme for scheme in SCHEMES if scheme not in ("sqlite", "spatialite")),
    (
        "sqlite",
        "spatialite",
        "POSTGRES",
        "PostgreSQL",
        "postgre",
        "mariadb",
        "http",
        "mysqlx",
        "",
        "1pg",
        "sqlite3",
    ),
)
USERS = Pool(("app", "", "APP", "a%40b", "us%3Aer", "\u00fc"), ("us:er", "us@er", "${DB_USER}", "%00"))
HOSTS = Pool(
    (
        "db",
        "DB.Example.COM",
        "127.0.0.1",
        "[::1]",
        "[2001:db8::1]",
        "%2Fvar%2Frun%2Fpostgresql",
        "%2FVar%2FRun",
        "%2fsock",
        "",
        "h\\inst",
    ),
    ("[::1", "::1]", "[v1.x]", "x[::1]y", "h\u00f6st", "a b", "%00", "${DB_HOST}", "db%3A1"),
)
PORTS = Pool(
    ("", ":5432", ":0", ":65535"), (":65536", ":99999999999999999999", ":abc", ":", ":-1", ":\u0663")
)
PATHS = Pool(
    ("/main", "/\u00fc", "/a/b", "/x.db", "/%23db"),
    ("", "/", "/a%00b", "/db@x", "/a%40b", "/${DB_NAME}", "/caf%E9"),
)
PARAMETER_NAMES = Pool(
    (
        "conn_max_age",
        "conn_health_checks",
        "atomic_requests",
        "disable_server_side_cursors",
        "read_only",
        "test_name",
        "sslmode",
        "connect_timeout",
        "sslpassword",
        "options",
        "currentSchema",
        "application_name",
        "ssl-ca",
        "init_command",
        "charset",
        "token",
    ),
    (
        *RESERVED_PARAMETERS,
        "ssl_mode",
        "service",
        "CONN_MAX_AGE",
        "Read_Only",
        "conn_max_agee",
        "x y",
        "\u00e9t\u00e9",
        "",
    ),
)
#: Values of the reserved parameters that are valid for every one of them in calm pools.
PARAMETER_VALUES = Pool(
    ("0", "1", "true", "false", "yes"),
    (
        "",
        "600",
        "none",
        "maybe",
        "-1",
        HUGE,
        "\u0663\u0663",
        "\u00b2",
        "disable",
        "default",
        "blog",
        "self",
        "%00",
        "a%20b",
        "%ff",
        "${MISSING}",
        "${OTHER}",
    ),
)
ALIAS_NAMES = Pool(
    ("BLOG", "BLOG_DB", "_P", "ANALYTICS"),
    ("blog", "1ST", "BLOG-DB", "", "DEFAULT", "default", "\u00c9", "X" * 80),
)
ROUTE_LABELS = Pool(("BLOG", "SHOP", "auth"), ("Blog", "", "1X", "A-B"))
ROUTE_VALUES = Pool(("default", "DEFAULT"), ("blog", "BLOG_DB", "missing", "", " ", "a b", "1x", "s\udcff"))
DEBUGS = Pool(("true", "false", "1", "0", "yes", "No", " TRUE "), ("", "maybe", "t\udcff"))
HOST_LISTS = Pool(
    ("", "example.com", "example.com,.example.org", "*", "[::1]", " , a.com ,"),
    ("https://x.com", "localhost:8000", "*.example.com", "h\udcff"),
)
OTHER_VALUES = Pool(
    ("plain", "${OTHER}", "$${x}", "sqlite://"),
    (
        "${MISSING}",
        "${",
        "${}",
        "${1X}",
        "${DB_PASSWORD}",
        "x\udcff",
        "postgres://app:${DB_PASSWORD}@db/main",
    ),
)
GARBAGE_URLS = (
    "",
    "   ",
    "not a url",
    "://x",
    "postgres://",
    "sqlite://:memory:",
    "sqlite://:memory:?read_only=true",
    "${WHOLE_URL}",
    "$${x}",
    "postgres://db/main\x00",
    "mysql2://db/main",
)
SQLITE_PATHS = Pool(
    ("", ":memory:", "/x.db", "//abs/x.db", "/a@b.db"), ("host.db", "/a#1.db", "/%00.db", "/${DB_NAME}")
)

#: Strategies are built once: building one per draw costs more than running load().
_STRATEGIES: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}
BOOLEANS = st.booleans()
TENTHS = st.integers(0, 9)


def pick(values: Sequence[str]) -> st.SearchStrategy[str]:
    key = ("pick", *values)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.sampled_from(list(values))
    return _STRATEGIES[key]


def listed(values: Sequence[str], max_size: int) -> st.SearchStrategy[list[str]]:
    key = ("list", max_size, *values)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.lists(pick(values), max_size=max_size, unique=True)
    return _STRATEGIES[key]


@st.composite
def urls(draw: st.DrawFn, secret_variable: str, calm: bool) -> list[Piece]:
    """One URL value, as pieces: valid ones when ``calm``, else valid and hostile parts mixed."""
    kind = draw(pick(("server", "server", "sqlite") if calm else ("server", "server", "sqlite", "garbage")))
    if kind == "garbage":
        return [draw(pick(GARBAGE_URLS))]
    if kind == "sqlite":
        scheme = draw(pick(("sqlite", "spatialite", "SQLite")))
        pieces: list[Piece] = [f"{scheme}://{draw(pick(SQLITE_PATHS(calm)))}"]
    else:
        pieces = [f"{draw(pick(SCHEME_POOL(calm)))}://"]
        shape = draw(pick(("user:pw", "user:pw", "user", ":pw", "none", "user:")))
        if shape != "none":
            if shape != ":pw":
                pieces.append(draw(pick(USERS(calm))))
            if shape in ("user:pw", ":pw"):
                pieces.append(":")
                how = draw(pick(("encoded", "reference") if calm else ("encoded", "raw", "reference")))
                pieces.append(Secret(draw(CALM_SECRETS if calm else SECRETS), how, True, secret_variable))
            elif shape == "user:":
                pieces.append(":")
            pieces.append("@")
        pieces.append(draw(pick(HOSTS(calm))) + draw(pick(PORTS(calm))) + draw(pick(PATHS(calm))))
    parameters = draw(listed(PARAMETER_NAMES(calm), max_size=4))
    if not calm:
        parameters += draw(listed(PARAMETER_NAMES(calm), max_size=1))  # perhaps one given twice
    for position, name in enumerate(parameters):
        pieces.append(("?" if position == 0 else "&") + name + "=")
        if name in ("sslpassword", "token"):
            how = draw(pick(("encoded", "reference") if calm else ("encoded", "raw", "reference")))
            secret = draw(CALM_SECRETS if calm else SECRETS)
            pieces.append(Secret(secret, how, False, f"{secret_variable}_{name.upper()}"))
        elif name in ("options", "init_command"):
            pieces.append("-c%20app.token%3D" if name == "options" else "SET%20%40secret_key%3D")
            pieces.append(Secret(draw(CALM_EMBEDDED_SECRETS if calm else EMBEDDED_SECRETS), "encoded"))
        elif name in ("test_name", "currentSchema", "application_name", "ssl-ca", "charset", "sslmode"):
            pieces.append(
                draw(pick(("x", "utf8", "require", "/etc/ca.pem") + PARAMETER_VALUES.hostile * (not calm)))
            )
        elif name == "conn_max_age":
            pieces.append(draw(pick(("0", "600", "none") + PARAMETER_VALUES.hostile * (not calm))))
        else:
            pieces.append(draw(pick(PARAMETER_VALUES(calm))))
    if not calm and draw(TENTHS) == 0:
        pieces.append(draw(pick(("#frag", " \n", "\udcff", "%", "%zz"))))
    return pieces


@st.composite
def environments(draw: st.DrawFn) -> Drawn:
    """An environment: a calm one (each part valid, so it mostly loads) or a hostile one."""
    calm = draw(BOOLEANS)
    drawn = Drawn(calm=calm)
    if calm or draw(TENTHS):
        if draw(TENTHS) < 2:  # the whole URL from another variable: DATABASE_URL='${HEROKU_URL}'
            drawn.values["HEROKU_URL"] = draw(urls("DB_PASSWORD", calm))
            drawn.values["DATABASE_URL"] = ["${HEROKU_URL}"]
        else:
            drawn.values["DATABASE_URL"] = draw(urls("DB_PASSWORD", calm))
    for index, name in enumerate(draw(listed(ALIAS_NAMES(calm), max_size=3))):
        drawn.values[f"DATABASE_URL_{name}"] = draw(urls(f"PW_{index}", calm))
    for label in draw(listed(ROUTE_LABELS(calm), max_size=3)):
        drawn.values[f"DB_ROUTE_{label}"] = [draw(pick(ROUTE_VALUES(calm)))]
    choice = draw(pick(("secret",) if calm else ("unset", "odd", "secret", "secret")))
    if choice == "odd":
        drawn.values["SECRET_KEY"] = [draw(pick(("", "  ", "k\udcff")))]
    elif choice == "secret":
        drawn.values["SECRET_KEY"] = [Secret(draw(CALM_LONG_SECRETS if calm else SECRETS), "raw")]
    if draw(BOOLEANS):
        drawn.values["DEBUG"] = [draw(pick(DEBUGS(calm)))]
    if draw(BOOLEANS):
        drawn.values["ALLOWED_HOSTS"] = [draw(pick(HOST_LISTS(calm)))]
    for name in draw(listed(("OTHER", "WHOLE_URL", "DB_USER", "DB_HOST", "DB_NAME"), max_size=3)):
        drawn.values.setdefault(name, [draw(pick(OTHER_VALUES(calm)))])
    return drawn


# -- what must never show a secret ---------------------------------------------------------


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception linked from it as ``__cause__`` or ``__context__``."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]


def error_texts(error: ConfigError) -> list[str]:
    out = io.StringIO()
    _report_problems(error, out)
    texts = [
        out.getvalue(),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        pickle.dumps(error).decode("latin-1"),  # what a test runner or a worker process sends on
    ]
    for linked in _chain(error):
        texts += [str(linked), repr(linked)]
    return texts


def settings_texts(resolved: Settings) -> list[str]:
    description = _describe(resolved, None)
    out = io.StringIO()
    _print_human(description, None, out)
    return [
        repr(resolved),
        out.getvalue(),
        json.dumps(description, default=str),
        *(repr(mask(config)) for config in resolved.DATABASES.values()),
    ]


def assert_no_marker(texts: list[str]) -> None:
    for text in texts:
        assert START not in text and END not in text, text


def check(drawn: Drawn) -> None:
    """Property 1 for one environment."""
    environ = drawn.render()
    try:
        resolved = load(environ)
    except ConfigError as error:
        assert error.problems, "a ConfigError with no problem"
        # Each problem is filed under a variable the environment has (or must have).
        assert set(error.problems) <= {*environ, "DATABASE_URL", "SECRET_KEY"}, list(error.problems)
        assert_no_marker(error_texts(error))
        if not drawn.reshapes():
            with pytest.raises(ConfigError) as again:
                load(drawn.render(twin))
            assert again.value.problems == error.problems, "a message depends on a secret's letters"
        return
    assert isinstance(resolved, Settings)
    assert_no_marker(settings_texts(resolved))
    if drawn.calm:  # the password is exactly the secret, whatever its characters
        for alias, variable in resolved.sources.items():
            whole = drawn.values[variable] == ["${HEROKU_URL}"]
            (password,) = [
                # A value put in by ${NAME} is not scanned again: a reference in it stays as it is.
                "${" + piece.variable + "}" if whole and piece.how == "reference" else piece.text
                for piece in drawn.values["HEROKU_URL" if whole else variable]
                if isinstance(piece, Secret) and piece.userinfo
            ] or [""]
            assert resolved.databases[alias].get("PASSWORD", "") == password
    for config in resolved.DATABASES.values():
        shown = mask(config)
        assert shown.get("PASSWORD") in ("", None, "***")
        assert bool(shown.get("PASSWORD")) == bool(config.get("PASSWORD"))
        for key, value in (config.get("OPTIONS") or {}).items():
            if key in ("sslpassword", "token") and value not in ("", None):
                assert shown["OPTIONS"][key] == "***"


# -- property 1 ----------------------------------------------------------------------------


def _environment(**values: list[Piece]) -> Drawn:
    return Drawn(values=dict(values))


_KEY = {"SECRET_KEY": [Secret("qZkeyZq", "raw")]}


@_settings(examples=900)
@given(environments())
@example(_environment(DATABASE_URL=["postgres://app:", Secret("qZ/s3cretZq", "raw"), "@db/main"], **_KEY))
@example(_environment(DATABASE_URL=["postgres://app:", Secret("qZ5432/s3cretZq", "raw"), "@db/main"], **_KEY))
@example(_environment(DATABASE_URL=["postgres://app:", Secret("5432/1", "raw"), "@db/main"], **_KEY))
@example(_environment(DATABASE_URL=["postgres://app:", Secret("5432/x?a=qZsZq", "raw"), "@db/main"], **_KEY))
@example(_environment(DATABASE_URL=["postgres://app:", Secret("qZ\udcffZq", "raw"), "@db/main"], **_KEY))
@example(
    _environment(
        DATABASE_URL=["postgres://app:", Secret("qZ\udcffZq", "reference", True, "PW"), "@db/main"], **_KEY
    )
)
@example(
    _environment(DATABASE_URL=["postgres://app:", Secret("qZ\udcffZq", "encoded", True), "@db/main"], **_KEY)
)
@example(_environment(DATABASE_URL=[f"postgres://app:pw@db/main?connect_timeout={HUGE}"], **_KEY))
@example(
    _environment(
        DATABASE_URL=[
            "postgres://app:pw@db/main?sslpassword=",
            Secret("qZ1Zq", "raw"),
            "&sslpassword=",
            Secret("qZ2Zq", "raw"),
        ],
        **_KEY,
    )
)
@example(
    _environment(
        DATABASE_URL=["postgres://app:pw@db/main?options=-c%20app.token%3D", Secret("qZ/@:Zq", "encoded")],
        **_KEY,
    )
)
@example(  # a referenced parameter value with '&' was cut in two, its tail shown by show
    _environment(
        DATABASE_URL=[
            "postgres://app:pw@db/main?sslpassword=",
            Secret("qZ&=Zq", "reference", False, "SSL_PW"),
        ],
        **_KEY,
    )
)
def test_load_gives_settings_or_a_config_error_that_shows_no_secret(drawn: Drawn) -> None:
    check(drawn)


def test_the_environments_reach_both_outcomes() -> None:
    """Guards property 1 against a generator that drifted: both outcomes, with secrets in play."""
    seen: dict[str, int] = dict.fromkeys(["settings", "with a password", "error", "short secret"], 0)

    @settings(_settings(150), max_examples=150, derandomize=True, database=None)
    @given(environments())
    def tally(drawn: Drawn) -> None:
        seen["short secret"] += any(
            isinstance(piece, Secret) and START not in piece.text
            for pieces in drawn.values.values()
            for piece in pieces
        )
        try:
            resolved = load(drawn.render())
        except ConfigError:
            seen["error"] += 1
            return
        seen["settings"] += 1
        seen["with a password"] += any(config.get("PASSWORD") for config in resolved.databases.values())

    tally()
    assert all(count >= 15 for count in seen.values()), seen


# -- property 2: the same connection as dj-database-url ------------------------------------

CONNECTION_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")

#: Rejections of URLs dj-database-url accepts, each with the line of docs/configuration.md
#: that documents it (checked by test_every_documented_difference_is_in_the_docs).
DOCUMENTED_REJECTIONS = {
    r"has no database name": "no database name for a server database",
    r"contains '#'": "a `#` anywhere",
    r"has a host part, which \w+ does not use": "`sqlite://myfile.db`: a host instead of a path",
    r"has a NUL character": "a NUL character, raw or as `%00`, in any part",
    r"has a parameter that is not .* but is close to": "one typo away from",
    r"in upper or mixed case": "a reserved parameter in upper or mixed case",
    r"has (parameter \w+|a driver parameter) given \d+ times": "a driver parameter given twice",
    r"parameter \w+ is given \d+ times": "Each may be given once.",
    r"with a number of more than 18 digits": "a number of more than 18 digits",
    r"looks like a password with an unencoded": "a password written unencoded that the URL would read",
    r"has a percent-encoded byte that is not part of UTF-8": "a percent-encoded byte that is not part of UTF-8 text",
    r"has a tab or a line break inside it": "a tab or a line break inside the URL",
    rf"^parameter ({'|'.join(RESERVED_PARAMETERS)})\b": "a bad or repeated reserved parameter",
}
#: Differences in the connection of URLs both accept, with the docs line for each.
DOCUMENTED_DIFFERENCES = {
    "reserved parameters": "These are taken out of `OPTIONS`, validated, and applied to the alias.",
    "socket case": "a\nunix-socket directory keeps its case",
    "read_only": '`-c default_transaction_read_only=on` is added to `OPTIONS["options"]`',
    "read_only mysql": '`SET SESSION TRANSACTION READ ONLY` is\nadded to `OPTIONS["init_command"]`',
    "pool": '`OPTIONS["pool"] = True`',
    "test": '`test_name` and `test_mirror` configure `DATABASES[alias]["TEST"]` and nothing else',
}


def expected_connection(url: str, theirs: Mapping[str, Any]) -> dict[str, Any]:
    """dj-database-url's connection for ``url``, with the documented differences applied."""
    expected = {key: theirs.get(key, {} if key == "OPTIONS" else "") for key in CONNECTION_KEYS}
    options = dict(expected["OPTIONS"])
    for name in RESERVED_PARAMETERS:  # "reserved parameters"
        options.pop(name, None)
    expected["OPTIONS"] = options
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    socket = unquote(netloc.split(":", 1)[0])
    if socket.startswith("/"):  # "socket case"
        expected["HOST"] = socket
    return expected


def compare(url: str) -> None:
    """Property 2 for one URL."""
    try:
        theirs = dj_database_url.parse(url)
    except ValueError:
        return  # dj-database-url refuses it too: nothing to compare
    try:
        resolved = load({"DATABASE_URL": url, "SECRET_KEY": "k"})
    except ConfigError as error:
        messages = error.problems["DATABASE_URL"]
        assert set(error.problems) == {"DATABASE_URL"}, error.problems
        for message in messages:
            assert any(re.search(pattern, message) for pattern in DOCUMENTED_REJECTIONS), (
                f"undocumented rejection of a URL dj-database-url accepts: {url!r}: {message}"
            )
        return
    ours = resolved.DATABASES["default"]
    got = {key: ours.get(key, {} if key == "OPTIONS" else "") for key in CONNECTION_KEYS}
    expected = expected_connection(url, theirs)
    options = expected["OPTIONS"]
    if "default" in resolved.read_only_aliases and is_postgresql(ours):  # "read_only"
        existing = options.get("options")
        options["options"] = (
            f"{existing} {POSTGRES_READ_ONLY_OPTION}" if existing else POSTGRES_READ_ONLY_OPTION
        )
    elif "default" in resolved.read_only_aliases and ours["ENGINE"].endswith(".mysql"):  # "read_only mysql"
        existing = str(options.get("init_command") or "").strip().rstrip(";").rstrip()
        options["init_command"] = (
            f"{existing}; {MYSQL_READ_ONLY_COMMAND}" if existing else MYSQL_READ_ONLY_COMMAND
        )
    if got["OPTIONS"].get("pool") is True:  # "pool"
        expected["OPTIONS"]["pool"] = True
    assert got == expected, url
    query = url.partition("?")[2]
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "DISABLE_SERVER_SIDE_CURSORS"):  # same defaults
        if key in theirs and f"{key.lower()}=" not in query:
            assert ours[key] == theirs[key], (url, key)
    if "test_name=" not in query and "test_mirror=" not in query:  # "test"
        assert "TEST" not in ours, url


#: The URLs of dj-database-url's own test suite (tests/test_dj_database_url.py).
_AWS = "ec2-107-21-253-135.compute-1.amazonaws.com"
DJ_DATABASE_URL_CORPUS = [
    f"postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    "postgres://%2Fvar%2Frun%2Fpostgresql/d8r82722r2kuvn",
    "postgres://%2FUsers%2Fpostgres%2FRuN/d8r82722r2kuvn",
    "postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@%2Fcloudsql%2Fproject_id%3Aregion%3Ainstance_id/d8r82722r2kuvn",
    "postgres://ieRaekei9wilaim7:wegauwhgeuioweg@[2001:db8:1234::1234:5678:90af]:5431/d8r82722r2kuvn",
    f"postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn?currentSchema=otherschema",
    f"postgres://%23user:%23password@{_AWS}:5431/%23database",
    f"postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn?server_side_binding=true"
    "&timeout=20&service=my_service&passfile=.my_pgpass",
    f"postgis://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    f"postgis://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn?currentSchema=otherschema",
    f"mysqlgis://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    f"mysql-connector://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    f"postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn?",
    "mysql://bea6eb025ca0d8:69772142@us-cdbr-east.cleardb.com/heroku_97681db3eff7580?reconnect=true",
    "sqlite://",
    "sqlite://:memory:",
    "sqlite:///db.sqlite3",
    "sqlite:////db.sqlite3",
    f"postgres://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn"
    "?sslrootcert=rds-combined-ca-bundle.pem&sslmode=verify-full",
    f"mysql://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:3306/d8r82722r2kuvn?ssl-ca=rds-combined-ca-bundle.pem",
    "oracle://scott:tiger@oraclehost:1521/hr",
    "oraclegis://scott:tiger@oraclehost:1521/hr",
    "oracle://scott:tiger@/(DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=oraclehost)(PORT=1521)))"
    "(CONNECT_DATA=(SID=hr)))",
    "oracle://scott:tiger@/tnsname",
    f"redshift://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5439/d8r82722r2kuvn?currentSchema=otherschema",
    f"mssql://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}/d8r82722r2kuvn?driver=ODBC Driver 13 for SQL Server",
    f"mssql://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}\\insnsnss:12345/d8r82722r2kuvn"
    "?driver=ODBC Driver 13 for SQL Server",
    "cockroach://testuser:testpass@testhost:26257/cockroach?sslmode=verify-full&sslrootcert=/certs/ca.crt"
    "&sslcert=/certs/client.myprojectuser.crt&sslkey=/certs/client.myprojectuser.key",
    f"mssqlms://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}/d8r82722r2kuvn?driver=ODBC Driver 13 for SQL Server",
    f"timescale://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    "timescale://%2Fvar%2Frun%2Fpostgresql/d8r82722r2kuvn",
    "timescale://%2FUsers%2Fpostgres%2FRuN/d8r82722r2kuvn",
    "timescale://ieRaekei9wilaim7:wegauwhgeuioweg@[2001:db8:1234::1234:5678:90af]:5431/d8r82722r2kuvn",
    f"timescale://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn?currentSchema=otherschema",
    f"timescale://%23user:%23password@{_AWS}:5431/%23database",
    f"timescalegis://uf07k1i6d8ia0v:wegauwhgeuioweg@{_AWS}:5431/d8r82722r2kuvn",
    "timescalegis://%2Fvar%2Frun%2Fpostgresql/d8r82722r2kuvn",
    "timescalegis://ieRaekei9wilaim7:wegauwhgeuioweg@[2001:db8:1234::1234:5678:90af]:5431/d8r82722r2kuvn",
    "sqlite://myfile.db",
    "postgres://user:passw#ord!@localhost/foobar",
    "postgres://user%40domain:p%23ssword!@localhost/foobar",
    "unknown-scheme://user:password@localhost/foobar",
    "mysql://user:pw@127.0.0.1:15036/db?connect_timout=3",
    "postgres://user:password@instance.amazonaws.com:5431/d8r8?",
]


@pytest.mark.parametrize("url", DJ_DATABASE_URL_CORPUS)
def test_dj_database_url_test_suite_urls_resolve_the_same(url: str) -> None:
    compare(url)


def test_the_corpus_is_mostly_accepted_by_both() -> None:
    """Guards the comparison against comparing nothing: most corpus URLs resolve on both sides."""
    both = 0
    for url in DJ_DATABASE_URL_CORPUS:
        try:
            dj_database_url.parse(url)
            load({"DATABASE_URL": url, "SECRET_KEY": "k"})
        except (ValueError, ConfigError):
            continue
        both += 1
    assert both >= len(DJ_DATABASE_URL_CORPUS) - 4


def test_every_documented_difference_is_in_the_docs() -> None:
    docs = CONFIGURATION_DOCS.read_text()
    flat = " ".join(docs.split())
    for line in [*DOCUMENTED_REJECTIONS.values(), *DOCUMENTED_DIFFERENCES.values()]:
        assert " ".join(line.split()) in flat, line


def _encode(text: str) -> str:
    return quote(text, safe="")


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
_ENCODED = _TEXT.map(_encode)
#: Text that RFC 3986 allows unencoded in a user name, password or path segment
#: (unreserved characters and sub-delimiters): well-formed without any percent-encoding.
_RAW = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;="), max_size=8)
_PARTS = st.one_of(_ENCODED, _RAW)
_LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=10)
_SERVER_SCHEMES = st.sampled_from([scheme for scheme in SCHEMES if scheme not in ("sqlite", "spatialite")])
_SQLITE_URLS = st.builds(
    "{}://{}".format,
    st.sampled_from(["sqlite", "spatialite", "SQLITE"]),
    st.sampled_from(["", "/", "/db.sqlite3", "//var/data/x.db", "/a%20b.db", "/caf%C3%A9.db"]),
)
_HOSTS = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=3).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts))),
    st.sampled_from(
        ["[::1]", "[2001:db8::1]", "[fe80::1:2]", "[fe80::1%25eth0]", "DB.Example.com", "h\\inst"]
    ),
    st.lists(st.text(st.sampled_from("abcXYZ_-"), min_size=1, max_size=6), min_size=1, max_size=3).map(
        lambda parts: _encode("/" + "/".join(parts))
    ),
    st.just(""),
)


def _server_url(scheme: str, user: str | None, password: str | None, host: str, port: str, name: str) -> str:
    userinfo = (
        ""
        if user is None and password is None
        else f"{user or ''}{'' if password is None else ':' + password}@"
    )
    return f"{scheme}://{userinfo}{host}{port}/{name}"


_SERVER_URLS = st.builds(
    _server_url,
    st.one_of(_SERVER_SCHEMES, _SERVER_SCHEMES.map(str.upper)),
    st.none() | _PARTS,
    st.none() | _PARTS | _RAW.map(lambda text: text + ":x"),  # a ':' in the password is fine
    _HOSTS,
    st.one_of(st.just(""), st.integers(0, 65535).map(":{}".format), st.just(":05432")),
    st.one_of(_PARTS, st.just(""), _PARTS.map("a/{}".format), _RAW.map("{}:x".format)),
)
_RESERVED_VALUES = {
    "conn_max_age": st.sampled_from(["0", "600", "none"]),
    "test_mirror": st.just("default"),
    "test_name": st.just("test_x"),
}
_BOOLEAN_TEXT = st.sampled_from(["true", "false", "1", "0"])
_PARAMETERS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "sslmode",
                "connect_timeout",
                "application_name",
                "currentSchema",
                "ssl-ca",
                "charset",
                "service",
                "sslpassword",
                "options",
                "driver",
                *RESERVED_PARAMETERS,
            ]
        ),
        st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"), min_size=1, max_size=10),
    ),
    max_size=4,
    unique=True,
).flatmap(
    lambda names: st.tuples(
        *[
            (_RESERVED_VALUES.get(name, _BOOLEAN_TEXT) if name in RESERVED_PARAMETERS else _ENCODED).map(
                f"{name}={{}}".format
            )
            for name in names
        ]
    )
)


@st.composite
def well_formed_urls(draw: st.DrawFn) -> str:
    """A URL every part of which is percent-encoded where it must be."""
    url = draw(st.one_of(_SERVER_URLS, _SERVER_URLS, _SQLITE_URLS))
    query = draw(_PARAMETERS)
    return url + ("?" + "&".join(query) if query else "")


@_settings(examples=1000)
@given(well_formed_urls())
@example("postgres://app:pw@db/a%40b")
@example("postgres://app:pw@db:/main")
@example("mysql://app:pw@db/main?read_onlx=1")
def test_dj_database_url_and_load_agree_on_well_formed_urls(url: str) -> None:
    compare(url)
