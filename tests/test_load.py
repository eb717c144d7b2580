"""``load()``: aliases, naming rules, routes, the basic settings, an immutable result,
and purity (only the given mapping is read: no other variable, no file)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from djcfg_env import ConfigError, Settings, load
from djcfg_env.env.loader import DEBUG_SECRET_KEY
from tests.conftest import run

SECRET_KEY = "load-test-secret-key-0d9e"


def env(**variables: str) -> dict[str, str]:
    return {"DATABASE_URL": "sqlite:///main.db", "SECRET_KEY": SECRET_KEY, **variables}


def problems(environ: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    with pytest.raises(ConfigError) as caught:
        load(environ)
    return dict(caught.value.problems)


# -- aliases -------------------------------------------------------------------------------


def test_each_url_variable_is_an_alias_default_first() -> None:
    settings = load(env(
        DATABASE_URL_BLOG_DB="sqlite:///blog.db",
        DATABASE_URL_ANALYTICS="postgres://r:pw@warehouse/analytics",
    ))
    assert settings.aliases == ("default", "analytics", "blog_db")
    assert list(settings.DATABASES) == ["default", "analytics", "blog_db"]
    assert settings.DATABASES["blog_db"]["NAME"] == "blog.db"
    assert settings.DATABASES["analytics"]["HOST"] == "warehouse"
    assert dict(settings.sources) == {
        "default": "DATABASE_URL",
        "analytics": "DATABASE_URL_ANALYTICS",
        "blog_db": "DATABASE_URL_BLOG_DB",
    }


@pytest.mark.parametrize(
    ("variable", "alias"),
    [("DATABASE_URL_BLOG_DB", "blog_db"), ("DATABASE_URL_Reports", "reports"),
     ("DATABASE_URL_DB2", "db2"), ("DATABASE_URL__PRIVATE", "_private"),
     ("DATABASE_URL_X", "x")],
)
def test_alias_names_are_lower_cased_identifiers(variable: str, alias: str) -> None:
    settings = load(env(**{variable: "sqlite:///other.db"}))
    assert settings.aliases == ("default", alias)


@pytest.mark.parametrize(
    "variable",
    ["DATABASE_URL_2ND", "DATABASE_URL_BLOG-DB", "DATABASE_URL_BLOG DB", "DATABASE_URL_BLÖG",
     "DATABASE_URL_", "DATABASE_URL_DEFAULT", "DATABASE_URL_default"],
)
def test_unusable_alias_names_are_errors_never_dropped(variable: str) -> None:
    assert list(problems(env(**{variable: "sqlite:///other.db"}))) == [variable]


def test_two_variables_for_one_alias_are_both_reported() -> None:
    found = problems(env(DATABASE_URL_BLOG="sqlite:///a.db", DATABASE_URL_Blog="sqlite:///b.db"))
    assert set(found) == {"DATABASE_URL_BLOG", "DATABASE_URL_Blog"}
    assert "DATABASE_URL_Blog" in found["DATABASE_URL_BLOG"][0]
    assert "DATABASE_URL_BLOG" in found["DATABASE_URL_Blog"][0]


@pytest.mark.parametrize(
    "variable",
    ["DATABASE_URLS", "DATABASE_URL2", "DATABASE_URLX", "database_url_blog", "MY_DATABASE_URL",
     "DB_ROUTES", "DB_ROUTEX", "db_route_blog"],
)
def test_look_alike_variables_are_not_ours(variable: str) -> None:
    settings = load(env(**{variable: "whatever"}))
    assert settings.aliases == ("default",)
    assert settings.DATABASE_ROUTING_RULES == {}


def test_database_url_is_required() -> None:
    found = problems({"SECRET_KEY": SECRET_KEY, "DATABASE_URL_BLOG": "sqlite:///b.db"})
    assert list(found) == ["DATABASE_URL"]
    assert found["DATABASE_URL"][0].startswith("is not set; set it to the URL")


# -- routes --------------------------------------------------------------------------------


def test_routes_map_app_labels_to_aliases() -> None:
    settings = load(env(
        DATABASE_URL_BLOG_DB="sqlite:///blog.db",
        DATABASE_URL_ANALYTICS="sqlite:///analytics.db?read_only=true",
        DB_ROUTE_BLOG="blog_db",
        DB_ROUTE_ANALYTICS="analytics",
        DB_ROUTE_MyShop=" BLOG_DB ",
        DB_ROUTE_AUTH="default",
    ))
    assert settings.DATABASE_ROUTING_RULES == {
        "analytics": "analytics", "auth": "default", "blog": "blog_db", "myshop": "blog_db"}
    assert settings.alias_for("blog") == "blog_db"
    assert settings.alias_for("not_routed") == "default"
    assert settings.DATABASE_ROUTERS == ["djcfg_env.router.AppDatabaseRouter"]
    assert settings.READ_ONLY_DATABASES == frozenset({"analytics"})


def test_a_route_to_an_undefined_alias_lists_the_defined_ones() -> None:
    found = problems(env(DATABASE_URL_BLOG_DB="sqlite:///blog.db", DB_ROUTE_SHOP="shop_db"))
    assert list(found) == ["DB_ROUTE_SHOP"]
    (message,) = found["DB_ROUTE_SHOP"]
    assert message.startswith("routes app 'shop' to an alias that is not defined;")
    assert "(blog_db, default)" in message
    assert "shop_db" not in message  # the value is never repeated


def test_a_route_to_an_alias_whose_url_is_bad_reports_only_the_url() -> None:
    found = problems(env(DATABASE_URL_BLOG_DB="sqlite://blog.db", DB_ROUTE_BLOG="blog_db"))
    assert list(found) == ["DATABASE_URL_BLOG_DB"]


def test_a_route_to_default_is_not_blamed_when_database_url_is_missing() -> None:
    found = problems({"SECRET_KEY": SECRET_KEY, "DB_ROUTE_AUTH": "default"})
    assert list(found) == ["DATABASE_URL"]


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_route_is_an_error(value: str) -> None:
    found = problems(env(DB_ROUTE_BLOG=value))
    assert found["DB_ROUTE_BLOG"][0].startswith("is empty;")


# -- SECRET_KEY, DEBUG, ALLOWED_HOSTS ------------------------------------------------------


def test_basics_defaults() -> None:
    settings = load(env())
    assert settings.SECRET_KEY == SECRET_KEY
    assert settings.DEBUG is False
    assert settings.ALLOWED_HOSTS == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False),
     ("0", False), ("no", False), ("No", False)],
)
def test_debug_is_a_strict_boolean(raw: str, expected: bool) -> None:
    assert load(env(DEBUG=raw)).DEBUG is expected


@pytest.mark.parametrize("raw", ["on", "off", "y", "n", "2", "", "debug"])
def test_debug_rejects_everything_else(raw: str) -> None:
    found = problems(env(DEBUG=raw))
    assert list(found) == ["DEBUG"]
    assert found["DEBUG"][0] == "is not a boolean; write one of true, false, 1, 0, yes, no."


def test_secret_key_is_optional_only_in_debug() -> None:
    settings = load({"DATABASE_URL": "sqlite://", "DEBUG": "true"})
    assert settings.SECRET_KEY == DEBUG_SECRET_KEY
    assert settings.SECRET_KEY.startswith("django-insecure-")
    assert list(problems({"DATABASE_URL": "sqlite://"})) == ["SECRET_KEY"]
    assert list(problems({"DATABASE_URL": "sqlite://", "DEBUG": "no"})) == ["SECRET_KEY"]


def test_a_given_secret_key_is_used_in_debug_too() -> None:
    assert load(env(DEBUG="yes")).SECRET_KEY == SECRET_KEY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", ["example.com"]),
        ("example.com, .example.org ,*", ["example.com", ".example.org", "*"]),
        ("localhost,[::1],127.0.0.1,[2001:db8::1]",
         ["localhost", "[::1]", "127.0.0.1", "[2001:db8::1]"]),
        ("a.example.com,,", ["a.example.com"]),
        ("", []),
    ],
)
def test_allowed_hosts_is_a_comma_separated_list(raw: str, expected: list[str]) -> None:
    assert load(env(ALLOWED_HOSTS=raw)).ALLOWED_HOSTS == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [("https://example.com", "entry 1 looks like a URL;"),
     ("example.com/app", "entry 1 looks like a URL;"),
     ("ok.example.com,bad host", "entry 2 is not a host name;"),
     ("example.com,localhost:8000", "entry 2 has a port, which Django never matches"),
     ("[::1]:8000", "entry 1 has a port"),
     ("*.example.com", "entry 1 is not a host name;")],
)
def test_allowed_hosts_rejects_what_is_not_a_host(raw: str, says: str) -> None:
    (message,) = problems(env(ALLOWED_HOSTS=raw))["ALLOWED_HOSTS"]
    assert message.startswith(says)


# -- the result is immutable ---------------------------------------------------------------


@pytest.fixture
def settings() -> Settings:
    return load(env(
        DATABASE_URL_BLOG_DB="postgres://app:pw@db/blog?sslmode=require&read_only=true",
        DB_ROUTE_BLOG="blog_db",
        ALLOWED_HOSTS="example.com",
    ))


@pytest.mark.parametrize("name", ["databases", "routes", "secret_key", "debug", "DEBUG", "extra"])
def test_settings_attributes_cannot_be_set_or_deleted(settings: Settings, name: str) -> None:
    with pytest.raises(AttributeError):
        setattr(settings, name, None)
    with pytest.raises(AttributeError):
        delattr(settings, name)


def test_the_resolved_data_is_read_only(settings: Settings) -> None:
    with pytest.raises(TypeError):
        settings.databases["default"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.databases["blog_db"]["NAME"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.databases["blog_db"]["OPTIONS"]["sslmode"] = "disable"  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.routes["blog"] = "default"  # type: ignore[index]
    assert isinstance(settings.READ_ONLY_DATABASES, frozenset)
    assert isinstance(settings.allowed_hosts, tuple)


def test_the_django_shaped_copies_are_fresh_each_time(settings: Settings) -> None:
    databases = settings.DATABASES
    databases["blog_db"]["OPTIONS"]["sslmode"] = "disable"
    databases["default"]["NAME"] = "changed.db"
    del databases["blog_db"]
    settings.DATABASE_ROUTING_RULES["blog"] = "default"
    settings.ALLOWED_HOSTS.append("evil.example")
    settings.DATABASE_ROUTERS.append("other.Router")
    assert settings.DATABASES["blog_db"]["OPTIONS"]["sslmode"] == "require"
    assert settings.DATABASES["default"]["NAME"] == "main.db"
    assert settings.DATABASE_ROUTING_RULES == {"blog": "blog_db"}
    assert settings.ALLOWED_HOSTS == ["example.com"]
    assert settings.DATABASE_ROUTERS == ["djcfg_env.router.AppDatabaseRouter"]
    assert type(settings.DATABASES["blog_db"]["OPTIONS"]) is dict


def test_changing_one_result_never_changes_a_later_load(settings: Settings) -> None:
    # load() may reuse work between calls; what it hands out must stay independent.
    first = settings.DATABASES
    first["blog_db"]["OPTIONS"]["options"] = "tampered"
    again = load(env(
        DATABASE_URL_BLOG_DB="postgres://app:pw@db/blog?sslmode=require&read_only=true",
        DB_ROUTE_BLOG="blog_db",
        ALLOWED_HOSTS="example.com",
    ))
    assert again == settings
    assert again.DATABASES["blog_db"]["OPTIONS"]["options"] == "-c default_transaction_read_only=on"


def test_settings_repr_shows_no_secret() -> None:
    settings = load({
        "DATABASE_URL": "postgres://app:Repr-Pw-6a6a@db/main",
        "DATABASE_URL_X": "postgres://app:${PW}@db/x",
        "PW": "Repr-Pw2-7b7b",
        "SECRET_KEY": "Repr-Secret-8c8c",
    })
    for text in (repr(settings), str(settings)):
        for secret in ("Repr-Pw-6a6a", "Repr-Pw2-7b7b", "Repr-Secret-8c8c"):
            assert secret not in text
    assert repr(settings).startswith("<Settings aliases=[default, x]")


def test_as_django_settings_publishes_the_upper_case_names(settings: Settings) -> None:
    published = settings.as_django_settings()
    assert set(published) == {"DATABASES", "DATABASE_ROUTERS", "DATABASE_ROUTING_RULES",
                              "READ_ONLY_DATABASES", "DATABASE_REPLICAS", "DATABASE_REPLICA_MAX_LAG",
                              "DB_REPLICA_PIN_SECONDS", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
                              "DEFAULT_EXCEPTION_REPORTER_FILTER", "DEFAULT_EXCEPTION_REPORTER"}
    assert published["DATABASES"] == settings.DATABASES


# -- a pure function of the mapping -------------------------------------------------------


class _CountingMapping(Mapping[str, str]):
    """A read-only mapping that is not a dict: load() must accept any Mapping."""

    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_any_mapping_works() -> None:
    base = env(DATABASE_URL_BLOG_DB="sqlite:///b.db", DB_ROUTE_BLOG="blog_db")
    expected = load(base)
    assert load(MappingProxyType(base)) == expected
    assert load(_CountingMapping(base)) == expected


def test_the_given_mapping_wins_over_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL_FROM_OS", "sqlite:///os.db")
    monkeypatch.setenv("DB_ROUTE_FROM_OS", "default")
    monkeypatch.setenv("DEBUG", "true")
    settings = load(env())
    assert settings.aliases == ("default",)
    assert settings.DATABASE_ROUTING_RULES == {}
    assert settings.DEBUG is False


PURITY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import djcfg_env

    GIVEN = {
        "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db/main?conn_max_age=60",
        "DATABASE_URL_BLOG_DB": "sqlite:///blog.db?read_only=true",
        "DB_ROUTE_BLOG": "blog_db",
        "DB_PASSWORD": "p@ss",
        "SECRET_KEY": "k",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "example.com",
    }
    # Warm up with other values, so lazy imports are not mistaken for reading files.
    djcfg_env.load({"DATABASE_URL": "postgres://u:${P}@h/d?read_only=1&conn_max_age=5",
                    "DATABASE_URL_Y": "sqlite:///y.db", "DB_ROUTE_Y": "y", "P": "x",
                    "SECRET_KEY": "w", "DEBUG": "no", "ALLOWED_HOSTS": "a.b"})
    try:
        djcfg_env.load({"DATABASE_URL": "sqlite://x.db", "DEBUG": "?"})
    except djcfg_env.ConfigError:
        pass

    touched = []
    class Tripwire(dict):
        def _note(self, what):
            touched.append(what)
        def __getitem__(self, key): self._note(key); return dict.__getitem__(self, key)
        def get(self, key, default=None): self._note(key); return dict.get(self, key, default)
        def __contains__(self, key): self._note(key); return dict.__contains__(self, key)
        def __iter__(self): self._note("<iter>"); return dict.__iter__(self)
        def keys(self): self._note("<keys>"); return dict.keys(self)
        def items(self): self._note("<items>"); return dict.items(self)
        def values(self): self._note("<values>"); return dict.values(self)
        def copy(self): self._note("<copy>"); return dict.copy(self)

    watched = {"open", "os.listdir", "os.scandir", "subprocess.Popen", "os.system",
               "socket.connect", "os.putenv", "os.unsetenv"}
    events = []
    def hook(event, args):
        if event in watched:
            events.append([event, str(args[0]) if args else ""])
    sys.addaudithook(hook)
    os.environ = Tripwire(os.environ)
    given = dict(GIVEN)
    settings = djcfg_env.load(given)
    failed = None
    try:
        djcfg_env.load(dict(GIVEN, DATABASE_URL="sqlite://bad.db", DEBUG="maybe"))
    except djcfg_env.ConfigError as error:
        failed = sorted(error.problems)
    print(json.dumps({"touched": touched, "events": events, "aliases": list(settings.aliases),
                      "failed": failed, "given_unchanged": given == GIVEN}))
    """
)


def test_load_reads_only_the_mapping_it_is_given(tmp_path: Path) -> None:
    # A .env file next to the process and extra variables in its environment must
    # both be ignored; an audit hook sees every file opened, a tripwire every
    # os.environ access.
    (tmp_path / ".env").write_text("DATABASE_URL_FROM_FILE=sqlite:///file.db\nDEBUG=maybe\n")
    script = tmp_path / "purity.py"
    script.write_text(PURITY_SCRIPT)
    result = run(["python", str(script)], cwd=tmp_path, env={
        "DATABASE_URL_FROM_OS": "sqlite:///os.db", "DB_ROUTE_X": "nowhere",
        "DJANGO_SETTINGS_MODULE": "does.not.exist",
    })
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"touched": [], "events": [], "aliases": ["default", "blog_db"],
                      "failed": ["DATABASE_URL", "DEBUG"], "given_unchanged": True}


def test_load_without_a_mapping_reads_os_environ() -> None:
    code = ("import djcfg_env; s = djcfg_env.load(); "
            "print(list(s.aliases), s.DATABASE_ROUTING_RULES, s.DEBUG)")
    result = run(["python", "-c", code], env={
        "DATABASE_URL": "sqlite://", "DATABASE_URL_BLOG_DB": "sqlite:///b.db",
        "DB_ROUTE_BLOG": "blog_db", "DEBUG": "true",
    })
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['default', 'blog_db'] {'blog': 'blog_db'} True"
