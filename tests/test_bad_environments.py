"""A table-driven corpus of bad environments.

Each case is a whole environment with distinctive passwords and a distinctive
SECRET_KEY. ``load()`` must raise one :class:`ConfigError` whose ``problems``
name exactly the right variables, whose text has one line per problem that
starts with the variable's name, and in which no secret appears anywhere: not
in ``str``, ``repr``, ``args``, ``problems``, the ``__cause__``/``__context__``
chain, nor the formatted traceback.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import django
import pytest
from django.core.exceptions import ImproperlyConfigured

from djcfg_env import ConfigError, load

#: Distinctive secrets: none of them may ever appear in an error.
SECRET_KEY = "sk-Corpus-9f8e7d6c5b4a-NEVER-SHOWN"
PASSWORD = "Pw-Corpus-3xq@:/#?%-end"  # needs percent-encoding: used via ${DB_PASSWORD}
READONLY_PASSWORD = "RoPw-Corpus-5511-zz"
LITERAL = "LitPw-Corpus-77aa"  # written straight into URLs
ROUTE_SECRET = "Route_Corpus_Secret_42"  # a secret pasted into a route by mistake
HOST_SECRET = "HostSecret-Corpus-0c0c"
SECRETS = (SECRET_KEY, PASSWORD, READONLY_PASSWORD, LITERAL, ROUTE_SECRET, HOST_SECRET)

BASE: dict[str, str] = {
    "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db-main:5432/main?sslmode=require&conn_max_age=600",
    "DATABASE_URL_BLOG_DB": "postgres://app:${DB_PASSWORD}@db-blog:5432/blog?conn_health_checks=true",
    "DATABASE_URL_ANALYTICS": "postgres://reader:${DB_READONLY_PASSWORD}@warehouse/analytics"
                              "?read_only=true&connect_timeout=10",
    "DB_ROUTE_BLOG": "blog_db",
    "DB_ROUTE_ANALYTICS": "analytics",
    "DB_PASSWORD": PASSWORD,
    "DB_READONLY_PASSWORD": READONLY_PASSWORD,
    "SECRET_KEY": SECRET_KEY,
    "ALLOWED_HOSTS": "example.com,.example.org",
}

_UNSET = None


@dataclass(frozen=True)
class Case:
    """One bad environment: ``BASE`` with ``changes`` (None unsets) and what must be said."""

    id: str
    changes: Mapping[str, str | None]
    variables: frozenset[str]
    #: substrings that must appear in the message(s) of these variables
    says: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = dict(BASE)
        for name, value in self.changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env


def case(id: str, changes: Mapping[str, str | None], *variables: str, **says: str | tuple[str, ...]) -> Case:
    return Case(
        id,
        changes,
        frozenset(variables),
        {name: (text,) if isinstance(text, str) else text for name, text in says.items()},
    )


PG = "postgres://app:${DB_PASSWORD}@db-main:5432/main"
PG_LIT = f"postgres://app:{LITERAL}@db-main:5432/main"

CASES = [
    # -- DATABASE_URL itself -------------------------------------------------------------
    case("default-missing", {"DATABASE_URL": _UNSET}, "DATABASE_URL",
         DATABASE_URL="is not set; set it"),
    case("default-empty", {"DATABASE_URL": ""}, "DATABASE_URL", DATABASE_URL="is empty"),
    case("default-blank", {"DATABASE_URL": "   "}, "DATABASE_URL", DATABASE_URL="is empty"),
    case("no-scheme", {"DATABASE_URL": f"app:{LITERAL}@db-main/main"}, "DATABASE_URL",
         DATABASE_URL="start it with a scheme"),
    case("scheme-typo", {"DATABASE_URL": "postgress://app:${DB_PASSWORD}@db/main"}, "DATABASE_URL",
         DATABASE_URL="did you mean postgres://?"),
    case("scheme-unknown", {"DATABASE_URL": f"mongodb://app:{LITERAL}@db/main"}, "DATABASE_URL",
         DATABASE_URL="use one of:"),
    case("scheme-not-a-scheme", {"DATABASE_URL": f"post gres://app:{LITERAL}@db/main"},
         "DATABASE_URL", DATABASE_URL="not a scheme"),
    case("scheme-is-a-secret", {"DATABASE_URL": "${DB_READONLY_PASSWORD}://app@db/main"},
         "DATABASE_URL"),
    case("sqlite-host", {"DATABASE_URL": "sqlite://myfile.db"}, "DATABASE_URL",
         DATABASE_URL="sqlite:///myfile.db"),
    case("sqlite-userinfo", {"DATABASE_URL": f"sqlite://u:{LITERAL}@/app.db"}, "DATABASE_URL",
         DATABASE_URL="three slashes"),
    case("port-too-big", {"DATABASE_URL": f"postgres://app:{LITERAL}@db:99999/main"},
         "DATABASE_URL", DATABASE_URL="check the port"),
    case("port-not-number", {"DATABASE_URL": f"postgres://app:{LITERAL}@db:{LITERAL}/main"},
         "DATABASE_URL", DATABASE_URL="check the port"),
    case("unencoded-hash-in-password", {"DATABASE_URL": f"postgres://app:{LITERAL}#x@db/main"},
         "DATABASE_URL", DATABASE_URL="percent-encode it as %23"),
    case("hash-cuts-password-short", {"DATABASE_URL": f"postgres://app:12#{LITERAL}@db/main"},
         "DATABASE_URL", DATABASE_URL="percent-encode it as %23"),
    case("ipv6-unbalanced", {"DATABASE_URL": f"postgres://app:{LITERAL}@[::1/main"},
         "DATABASE_URL", DATABASE_URL="IPv6"),
    case("no-database-name", {"DATABASE_URL": f"postgres://app:{LITERAL}@db:5432"},
         "DATABASE_URL", DATABASE_URL="has no database name"),
    # -- interpolation -----------------------------------------------------------------------
    case("reference-unset", {"DATABASE_URL": "postgres://app:${DB_PASWORD}@db/main"},
         "DATABASE_URL", DATABASE_URL="DB_PASWORD"),
    case("references-unset", {"DATABASE_URL": "postgres://${DB_USER}:${DB_PASS}@db/main"},
         "DATABASE_URL", DATABASE_URL=("DB_USER", "DB_PASS", "are not set")),
    case("reference-malformed", {"DATABASE_URL": "postgres://app:${DB PASSWORD}@db/main"},
         "DATABASE_URL", DATABASE_URL="malformed"),
    case("reference-unclosed", {"DATABASE_URL": "postgres://app:${DB_PASSWORD@db/main"},
         "DATABASE_URL", DATABASE_URL="malformed"),
    case("reference-nested", {"DATABASE_URL": "postgres://app:${${DB_PASSWORD}}@db/main"},
         "DATABASE_URL", DATABASE_URL="malformed"),
    case("reference-to-a-reference-is-not-followed",
         {"DATABASE_URL": "postgres://app@db/main?options=${INDIRECT}&conn_max_age=${INDIRECT}",
          "INDIRECT": "${DB_PASSWORD}"},
         "DATABASE_URL", DATABASE_URL="conn_max_age is not a number"),
    # -- reserved parameters ---------------------------------------------------------------
    case("conn-max-age-negative", {"DATABASE_URL": PG + "?conn_max_age=-1"}, "DATABASE_URL",
         DATABASE_URL="parameter conn_max_age"),
    case("conn-max-age-secret", {"DATABASE_URL": f"{PG_LIT}?conn_max_age={LITERAL}"},
         "DATABASE_URL", DATABASE_URL="parameter conn_max_age"),
    case("health-checks-maybe", {"DATABASE_URL_BLOG_DB": PG + "?conn_health_checks=maybe"},
         "DATABASE_URL_BLOG_DB", DATABASE_URL_BLOG_DB="parameter conn_health_checks"),
    case("atomic-requests-2", {"DATABASE_URL": PG + "?atomic_requests=2"}, "DATABASE_URL",
         DATABASE_URL="parameter atomic_requests"),
    case("server-side-cursors-on", {"DATABASE_URL": PG + "?disable_server_side_cursors=on"},
         "DATABASE_URL", DATABASE_URL="parameter disable_server_side_cursors"),
    case("read-only-empty", {"DATABASE_URL_ANALYTICS": PG + "?read_only="},
         "DATABASE_URL_ANALYTICS", DATABASE_URL_ANALYTICS="parameter read_only"),
    case("read-only-secret", {"DATABASE_URL_ANALYTICS": f"{PG}?read_only={READONLY_PASSWORD}"},
         "DATABASE_URL_ANALYTICS", DATABASE_URL_ANALYTICS="parameter read_only"),
    case("read-only-upper-case", {"DATABASE_URL": PG + "?READ_ONLY=true"}, "DATABASE_URL",
         DATABASE_URL="lower case: read_only"),
    case("parameter-twice", {"DATABASE_URL": PG + "?conn_max_age=1&conn_max_age=2"},
         "DATABASE_URL", DATABASE_URL="given 2 times"),
    case("postgres-option-typo", {"DATABASE_URL": f"{PG}?sslmod={LITERAL}"}, "DATABASE_URL",
         DATABASE_URL="did you mean sslmode?"),
    case("reserved-typo-mysql", {"DATABASE_URL": f"mysql://app:{LITERAL}@db/main?readonly=1"},
         "DATABASE_URL", DATABASE_URL="did you mean read_only?"),
    case("pool-on-sqlite", {"DATABASE_URL": "sqlite:///app.db?pool=true"}, "DATABASE_URL",
         DATABASE_URL="works only with PostgreSQL"),
    case("pool-with-persistent", {"DATABASE_URL": PG + "?pool=true&conn_max_age=600"},
         "DATABASE_URL",
         DATABASE_URL="cannot be combined with conn_max_age"
         if django.VERSION >= (5, 1) else "needs Django 5.1 or later"),
    # -- alias names -------------------------------------------------------------------------
    case("alias-default", {"DATABASE_URL_DEFAULT": PG_LIT}, "DATABASE_URL_DEFAULT",
         DATABASE_URL_DEFAULT="set DATABASE_URL for the default database"),
    case("alias-default-mixed-case", {"DATABASE_URL_Default": PG_LIT}, "DATABASE_URL_Default"),
    case("alias-empty-name", {"DATABASE_URL_": PG_LIT}, "DATABASE_URL_",
         DATABASE_URL_="has no alias after DATABASE_URL_"),
    case("alias-starts-with-digit", {"DATABASE_URL_2ND": PG_LIT}, "DATABASE_URL_2ND",
         DATABASE_URL_2ND="not a valid name"),
    case("alias-with-hyphen", {"DATABASE_URL_BLOG-DB": PG_LIT}, "DATABASE_URL_BLOG-DB"),
    case("alias-given-twice", {"DATABASE_URL_blog_db": PG_LIT}, "DATABASE_URL_BLOG_DB",
         "DATABASE_URL_blog_db", DATABASE_URL_BLOG_DB="DATABASE_URL_blog_db",
         DATABASE_URL_blog_db="DATABASE_URL_BLOG_DB"),
    case("alias-empty-value", {"DATABASE_URL_BLOG_DB": ""}, "DATABASE_URL_BLOG_DB",
         DATABASE_URL_BLOG_DB="is empty"),
    # -- routes ------------------------------------------------------------------------------
    case("route-undefined", {"DB_ROUTE_SHOP": "shop_db"}, "DB_ROUTE_SHOP",
         DB_ROUTE_SHOP=("not defined", "analytics, blog_db, default")),
    case("route-undefined-after-alias-removed", {"DATABASE_URL_BLOG_DB": _UNSET}, "DB_ROUTE_BLOG",
         DB_ROUTE_BLOG="analytics, default"),
    case("route-is-a-secret", {"DB_ROUTE_BLOG": ROUTE_SECRET}, "DB_ROUTE_BLOG"),
    case("route-empty", {"DB_ROUTE_BLOG": ""}, "DB_ROUTE_BLOG", DB_ROUTE_BLOG="is empty"),
    case("route-not-a-name", {"DB_ROUTE_BLOG": f"blog-db/{LITERAL}"}, "DB_ROUTE_BLOG",
         DB_ROUTE_BLOG="not an alias name"),
    case("route-empty-label", {"DB_ROUTE_": "blog_db"}, "DB_ROUTE_",
         DB_ROUTE_="has no app label"),
    case("route-label-invalid", {"DB_ROUTE_MY.APP": "blog_db"}, "DB_ROUTE_MY.APP"),
    case("route-given-twice", {"DB_ROUTE_blog": "analytics"}, "DB_ROUTE_BLOG", "DB_ROUTE_blog"),
    # -- SECRET_KEY, DEBUG, ALLOWED_HOSTS ------------------------------------------------------
    case("secret-key-missing", {"SECRET_KEY": _UNSET}, "SECRET_KEY",
         SECRET_KEY=("is not set", "DEBUG=true")),
    case("secret-key-missing-debug-false", {"SECRET_KEY": _UNSET, "DEBUG": "false"}, "SECRET_KEY"),
    case("secret-key-empty", {"SECRET_KEY": ""}, "SECRET_KEY", SECRET_KEY="is empty"),
    case("secret-key-blank-even-in-debug", {"SECRET_KEY": "  ", "DEBUG": "true"}, "SECRET_KEY"),
    case("debug-maybe", {"DEBUG": "maybe"}, "DEBUG", DEBUG="is not a boolean"),
    case("debug-empty", {"DEBUG": ""}, "DEBUG"),
    case("debug-on", {"DEBUG": "on"}, "DEBUG"),
    case("debug-secret", {"DEBUG": SECRET_KEY}, "DEBUG"),
    case("hosts-url", {"ALLOWED_HOSTS": f"https://{HOST_SECRET}.example.com"}, "ALLOWED_HOSTS",
         ALLOWED_HOSTS="entry 1 looks like a URL"),
    case("hosts-space", {"ALLOWED_HOSTS": f"example.com, {HOST_SECRET} x"}, "ALLOWED_HOSTS",
         ALLOWED_HOSTS="entry 2 is not a host name"),
    # -- several problems at once --------------------------------------------------------------
    case("everything-wrong",
         {"DATABASE_URL": _UNSET, "SECRET_KEY": _UNSET, "DEBUG": "maybe",
          "DB_ROUTE_SHOP": ROUTE_SECRET},
         "DATABASE_URL", "SECRET_KEY", "DEBUG", "DB_ROUTE_SHOP"),
    case("three-bad-urls",
         {"DATABASE_URL": PG + "?conn_max_age=forever",
          "DATABASE_URL_BLOG_DB": "postgress://app:${DB_PASSWORD}@db/blog",
          "DATABASE_URL_ANALYTICS": "postgres://reader:${DB_RO}@warehouse/analytics"},
         "DATABASE_URL", "DATABASE_URL_BLOG_DB", "DATABASE_URL_ANALYTICS",
         DATABASE_URL_ANALYTICS="DB_RO"),
    case("one-url-two-parameters",
         {"DATABASE_URL": f"{PG}?conn_max_age={LITERAL}&read_only={LITERAL}&pool=maybe"},
         "DATABASE_URL", DATABASE_URL=("conn_max_age", "read_only", "pool")),
    case("names-and-values",
         {"DATABASE_URL_": PG_LIT, "DATABASE_URL_DEFAULT": PG_LIT, "DB_ROUTE_BLOG": "",
          "ALLOWED_HOSTS": f"http://{HOST_SECRET}", "SECRET_KEY": ""},
         "DATABASE_URL_", "DATABASE_URL_DEFAULT", "DB_ROUTE_BLOG", "ALLOWED_HOSTS", "SECRET_KEY"),
]


def _secret_forms(env: Mapping[str, str]) -> Iterator[str]:
    """Every form in which a secret of ``env`` could leak: as is, lower-cased, encoded."""
    for secret in SECRETS:
        if any(secret in value for value in env.values()):
            yield secret
            yield secret.lower()
            yield quote(secret, safe="")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([current.__cause__, current.__context__])


def test_the_corpus_is_large_and_every_case_carries_secrets() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    for c in CASES:
        env = c.environ()
        assert env.get("DB_PASSWORD") == PASSWORD and env.get("DB_READONLY_PASSWORD"), c.id
    # cases that collect several problems at once are part of the corpus
    assert sum(len(c.variables) > 1 for c in CASES) >= 5


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_environment(bad: Case) -> None:
    env = bad.environ()
    with pytest.raises(ConfigError) as caught:
        load(env)
    error = caught.value
    assert isinstance(error, ImproperlyConfigured)

    # exactly the right variables, as data
    assert set(error.problems) == bad.variables, dict(error.problems)

    # one line per problem, each starting with its variable, in the form
    # "<VARIABLE>: <what is wrong>; <how to fix it>"
    lines = str(error).splitlines()
    assert len(lines) == len(error) == sum(len(m) for m in error.problems.values())
    expected_lines = [f"{variable}: {message}" for variable, messages in error.problems.items()
                      for message in messages]
    assert lines == expected_lines
    for line in lines:
        variable, _, message = line.partition(": ")
        assert variable in bad.variables, line
        assert "; " in message, f"no fix given: {line}"

    for variable, fragments in bad.says.items():
        text = " ".join(error.problems[variable])
        for fragment in fragments:
            assert fragment in text, (variable, fragment, text)

    # no secret anywhere
    rendered = [
        str(error),
        repr(error),
        repr(error.args),
        repr(dict(error.problems)),
        "".join(traceback.format_exception(error)),
        repr(pickle.loads(pickle.dumps(error)).problems),
    ]
    for link in _chain(error):
        rendered.extend([str(link), repr(link), repr(link.args)])
    text = "\n".join(rendered)
    for secret in _secret_forms(env):
        assert secret not in text, f"a secret leaked in case {bad.id}"


def test_problems_are_data_for_tools() -> None:
    env = CASES[-1].environ()
    with pytest.raises(ConfigError) as caught:
        load(env)
    problems = caught.value.problems
    assert all(isinstance(messages, tuple) for messages in problems.values())
    with pytest.raises(TypeError):
        problems["SECRET_KEY"] = ("changed",)  # type: ignore[index]
    # DATABASE_URL first, then other aliases, then routes, then the rest
    assert list(problems)[:3] == ["DATABASE_URL_", "DATABASE_URL_DEFAULT", "DB_ROUTE_BLOG"]


def test_the_chain_is_empty_so_nothing_can_hide_there() -> None:
    env = CASES[0].environ() | {"DATABASE_URL_BLOG_DB": f"postgres://app:{LITERAL}@db:99999/b"}
    with pytest.raises(ConfigError) as caught:
        load(env)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_a_variable_without_messages_is_not_a_problem() -> None:
    error = ConfigError({"DEBUG": [], "SECRET_KEY": ["is empty; set it."]})
    assert list(error.problems) == ["SECRET_KEY"]
    assert str(error) == "SECRET_KEY: is empty; set it."
    assert len(error) == 1


# -- under gunicorn: the problem list once ------------------------------------------------------


@pytest.mark.parametrize("preload", [False, True], ids=["worker", "preload"])
def test_gunicorn_prints_the_problem_list_once_and_stops(tmp_path, preload: bool) -> None:
    """gunicorn logs a worker's boot error with its traceback, then prints it again: not ours."""
    pytest.importorskip("gunicorn")
    from pathlib import Path

    from tests.conftest import run

    config = tmp_path / "gunicorn.conf.py"
    config.write_text("control_socket_disable = True\n")  # gunicorn 23+; older ones ignore it
    env = {
        "DATABASE_URL": f"postgres://app:{LITERAL}@db-main:99999/main",
        "DB_PASSWORD": PASSWORD,
        "DATABASE_URL_BLOG_DB": "postgres://app:${DB_PASSWORD}@db-blog/blog?conn_max_age=soon",
        "SECRET_KEY": "",
    }
    args = ["python", "-m", "gunicorn", "-c", str(config), "--workers", "1", "--timeout", "10",
            "--bind", "127.0.0.1:0", *(["--preload"] if preload else []), "reportproj.wsgi"]
    result = run(args, env=env, cwd=Path(__file__).parent / "report_project", timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output  # gunicorn's "App failed to load": it stops, no respawn
    assert "Traceback" not in output
    for line in ("DATABASE_URL: cannot be read as a URL", "DATABASE_URL_BLOG_DB: parameter conn_max_age",
                 "SECRET_KEY: is empty"):
        assert output.count(line) == 1, (line, output)
    assert output.count("djcfg_env.exceptions.ConfigError") == 1
    for secret in (LITERAL, PASSWORD, quote(PASSWORD, safe="")):
        assert secret not in output
