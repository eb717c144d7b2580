"""Read replicas, the configuration side: ``replica_of``, ``replica_max_lag``, ``DB_REPLICA_PIN_SECONDS``.

``load()`` in process: what a replica resolves to (read-only session options,
``TEST["MIRROR"]``, ``DATABASE_REPLICAS`` in ``DATABASES`` order, the lag and pin
settings), every error naming its variable and none echoing a value. End to end
(subprocesses, as a user runs them): ``python -m djcfg_env show`` and ``show --json``,
``check``, ``from djcfg_env.settings import *``, and ``manage.py check`` of
tests/check_projects (W007 for a route straight to a replica).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import pytest

from djcfg_env import ConfigError, Settings, load
from djcfg_env.env.schema import MYSQL_READ_ONLY_COMMAND, POSTGRES_READ_ONLY_OPTION
from tests.conftest import run
from tests.seed_project.harness import CHECK_PROJECT

SECRET_KEY = "replica-config-not-a-secret"
#: In every URL below: must never reach a message, a repr or the CLI's output.
PASSWORD = "Kestrel-Replica-Secret-5150"
PRIMARY = f"postgres://app:{PASSWORD}@db-main:5432/main"


def env(**variables: str) -> dict[str, str]:
    return {"DATABASE_URL": PRIMARY, "SECRET_KEY": SECRET_KEY, **variables}


def replica(host: str, query: str, database: str = "main") -> str:
    return f"postgres://reader:{PASSWORD}@{host}:5432/{database}?{query}"


def problems(environ: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    with pytest.raises(ConfigError) as caught:
        load(environ)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value)
    return dict(caught.value.problems)


#: Two primaries, three replicas (variables deliberately not in alias order of definition).
LAYOUT = env(
    DATABASE_URL_DEFAULT_REPLICA=replica("replica-1", "replica_of=default&replica_max_lag=30"),
    DATABASE_URL_A_REPLICA=replica("replica-2", "replica_of=default"),
    DATABASE_URL_SHOP_DB=f"postgres://app:{PASSWORD}@db-shop:5432/shop",
    DATABASE_URL_SHOP_REPLICA=replica("shop-replica", "replica_of=SHOP_DB&replica_max_lag=2.5", "shop"),
    DB_ROUTE_SHOP="shop_db",
)


# -- what a replica resolves to ---------------------------------------------------------------


def test_replicas_resolve_per_primary_in_databases_order() -> None:
    settings = load(LAYOUT)
    assert list(settings.DATABASES) == ["default", "a_replica", "default_replica", "shop_db", "shop_replica"]
    assert settings.DATABASE_REPLICAS == {
        "default": ["a_replica", "default_replica"],
        "shop_db": ["shop_replica"],
    }
    assert settings.DATABASE_REPLICA_MAX_LAG == {"default_replica": 30.0, "shop_replica": 2.5}
    assert settings.replicas == {"default": ("a_replica", "default_replica"), "shop_db": ("shop_replica",)}
    assert dict(settings.primary_of) == {
        "a_replica": "default",
        "default_replica": "default",
        "shop_replica": "shop_db",
    }
    assert settings.DB_REPLICA_PIN_SECONDS == settings.replica_pin_seconds == 15.0
    # A replica is read-only, with the read-only session, and mirrors its primary under test.
    assert settings.READ_ONLY_DATABASES == {"a_replica", "default_replica", "shop_replica"}
    for alias, primary in settings.primary_of.items():
        config = settings.DATABASES[alias]
        assert config["OPTIONS"] == {"options": POSTGRES_READ_ONLY_OPTION}
        assert config["TEST"] == {"MIRROR": primary}
    assert "replica_of" not in str(settings.DATABASES) and "replica_max_lag" not in str(settings.DATABASES)
    # The primaries stay writable, their settings untouched.
    assert settings.DATABASES["default"]["OPTIONS"] == {}
    assert "TEST" not in settings.DATABASES["shop_db"]
    # Published, as copies the caller may change.
    published = settings.as_django_settings()
    published["DATABASE_REPLICAS"]["default"].append("x")
    published["DATABASE_REPLICA_MAX_LAG"]["x"] = 1.0
    assert settings.DATABASE_REPLICAS["default"] == ["a_replica", "default_replica"]
    assert "x" not in settings.DATABASE_REPLICA_MAX_LAG


def test_no_replicas_means_empty_settings() -> None:
    settings = load(env(DATABASE_URL_ANALYTICS="sqlite:///analytics.db?read_only=true"))
    assert settings.DATABASE_REPLICAS == {} and settings.DATABASE_REPLICA_MAX_LAG == {}
    assert settings.DB_REPLICA_PIN_SECONDS == 15.0
    assert settings.READ_ONLY_DATABASES == {"analytics"}


def test_setting_names_include_the_replica_settings() -> None:
    for name in ("DATABASE_REPLICAS", "DATABASE_REPLICA_MAX_LAG", "DB_REPLICA_PIN_SECONDS"):
        assert name in Settings.SETTING_NAMES
    assert set(load(LAYOUT).as_django_settings()) == set(Settings.SETTING_NAMES)


def test_a_replica_gets_exactly_the_read_only_session_of_read_only_true() -> None:
    for url in (
        "postgres://r:{pw}@h/main?options=-c%20search_path%3Dapp",
        "mysql://r:{pw}@h/main?init_command=SET%20sql_mode%3D%27STRICT_ALL_TABLES%27",
        "sqlite:///replica.db",
    ):
        url = url.format(pw=PASSWORD)
        join = "&" if "?" in url else "?"
        as_replica = load(env(DATABASE_URL_R=f"{url}{join}replica_of=default"))
        as_read_only = load(env(DATABASE_URL_R=f"{url}{join}read_only=true"))
        assert as_replica.DATABASES["r"]["OPTIONS"] == as_read_only.DATABASES["r"]["OPTIONS"]
        assert as_replica.READ_ONLY_DATABASES == as_read_only.READ_ONLY_DATABASES == {"r"}
    mysql = load(env(DATABASE_URL_R=f"mysql://r:{PASSWORD}@h/main?replica_of=default"))
    assert mysql.DATABASES["r"]["OPTIONS"] == {"init_command": MYSQL_READ_ONLY_COMMAND}


def test_read_only_true_and_a_matching_test_mirror_are_allowed_on_a_replica() -> None:
    settings = load(env(DATABASE_URL_R=replica("r", "replica_of=default&read_only=true&test_mirror=default")))
    assert settings.DATABASE_REPLICAS == {"default": ["r"]}
    assert settings.DATABASES["r"]["TEST"] == {"MIRROR": "default"}
    # A replica of a read-only primary (an external warehouse and its standby) is fine too.
    settings = load(
        env(
            DATABASE_URL_WAREHOUSE="postgres://r:x@w/dw?read_only=true",
            DATABASE_URL_WAREHOUSE_STANDBY="postgres://r:x@w2/dw?replica_of=warehouse",
        )
    )
    assert settings.DATABASE_REPLICAS == {"warehouse": ["warehouse_standby"]}


def test_repr_shows_replicas_and_no_secret() -> None:
    text = repr(load(LAYOUT))
    assert "replicas=[a_replica->default, default_replica->default, shop_replica->shop_db]" in text
    assert PASSWORD not in text and SECRET_KEY not in text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("15", 15.0), (" 2.5 ", 2.5), ("0.25", 0.25), ("600", 600.0), ("7.", 7.0)],
)
def test_pin_seconds_from_the_environment(value: str, seconds: float) -> None:
    assert load(env(DB_REPLICA_PIN_SECONDS=value)).DB_REPLICA_PIN_SECONDS == seconds


# -- errors -------------------------------------------------------------------------------------


def test_every_replica_problem_at_once_each_naming_its_variable() -> None:
    found = problems(
        env(
            DATABASE_URL_UNKNOWN=replica("r1", "replica_of=defualt"),
            DATABASE_URL_OF_REPLICA=replica("r2", "replica_of=unknown_ok"),
            DATABASE_URL_UNKNOWN_OK=replica("r3", "replica_of=default"),
            DATABASE_URL_SELF=replica("r4", "replica_of=self"),
            DATABASE_URL_WRITABLE=replica("r5", "replica_of=default&read_only=false"),
            DATABASE_URL_LAG_ONLY=replica("r6", "replica_max_lag=30"),
            DATABASE_URL_OTHER_MIRROR=replica("r7", "replica_of=default&test_mirror=unknown_ok"),
            DB_REPLICA_PIN_SECONDS="soon",
        )
    )
    assert found == {
        "DATABASE_URL_LAG_ONLY": (
            "parameter replica_max_lag is given without replica_of; it applies only to a replica: "
            "add replica_of=<primary alias>, or remove replica_max_lag.",
        ),
        "DATABASE_URL_OF_REPLICA": (
            "parameter replica_of names 'unknown_ok', which is itself a replica (of 'default'); "
            "replicas of replicas are not supported: set replica_of=default (the primary both "
            "replicate).",
        ),
        "DATABASE_URL_OTHER_MIRROR": (
            "parameter test_mirror names another alias than replica_of; under test a replica "
            "mirrors its primary: remove test_mirror (replica_of sets it).",
        ),
        "DATABASE_URL_SELF": (
            "parameter replica_of names this alias itself; a database cannot be a replica of "
            "itself: name the primary it replicates (e.g. default), or remove replica_of.",
        ),
        "DATABASE_URL_UNKNOWN": (
            "parameter replica_of names an alias that is not defined (did you mean default?); set "
            "it to the primary this database replicates, one of the defined aliases (default, "
            "lag_only, other_mirror, writable), or define that alias with DATABASE_URL_<NAME>.",
        ),
        "DATABASE_URL_WRITABLE": (
            "parameter read_only=false contradicts replica_of: a streaming replica is read-only; "
            "remove read_only=false (replica_of makes the alias read-only).",
        ),
        "DB_REPLICA_PIN_SECONDS": (
            "is not a number of seconds; write a number >= 0 (e.g. 15, the default, or 2.5; 0 "
            "turns off reading from the primary after a write), without a sign, exponent or unit.",
        ),
    }


def test_an_unknown_primary_with_no_close_name_lists_the_aliases_without_repeating_the_value() -> None:
    found = problems(
        env(DATABASE_URL_R=replica("r", "replica_of=zzzqqq"), DATABASE_URL_BLOG_DB="sqlite:///blog.db")
    )
    (message,) = found["DATABASE_URL_R"]
    assert message.startswith(
        "parameter replica_of names an alias that is not defined; set it to the "
        "primary this database replicates, one of the defined aliases (blog_db, default)"
    )
    assert "zzzqqq" not in message


def test_the_default_database_cannot_be_a_replica_and_its_replicas_are_not_blamed() -> None:
    found = problems(
        {
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": replica("r", "replica_of=main_db"),
            "DATABASE_URL_MAIN_DB": PRIMARY,
            "DATABASE_URL_DEFAULT_REPLICA": replica("r2", "replica_of=default"),
        }
    )
    assert list(found) == ["DATABASE_URL"]
    assert found["DATABASE_URL"] == (
        "parameter replica_of makes the default database a replica; default must be writable "
        "(unrouted apps live there): define the replica with DATABASE_URL_<NAME> and "
        "replica_of=default, and give DATABASE_URL the primary's URL.",
    )


def test_two_aliases_cannot_replicate_each_other() -> None:
    found = problems(
        env(DATABASE_URL_A=replica("a", "replica_of=b"), DATABASE_URL_B=replica("b", "replica_of=a"))
    )
    assert found["DATABASE_URL_A"] == (
        "parameter replica_of names 'b', whose replica_of names this alias: two databases cannot "
        "replicate each other; remove replica_of from the primary's URL.",
    )
    assert list(found) == ["DATABASE_URL_A", "DATABASE_URL_B"]


LAG_INVALID = (
    "parameter replica_max_lag is not a number of seconds; write a number greater than 0 (e.g. 30 "
    "or 2.5), without a sign, exponent or unit."
)
LAG_TOO_LARGE = "parameter replica_max_lag is too large a number of seconds; write at most 18 digits before the decimal point."
LAG_HUGE_DIGITS = "has parameter replica_max_lag with a number of more than 18 digits; give a real value."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "0",
            "parameter replica_max_lag is 0; write the replay lag in seconds above which reads leave "
            "this replica, greater than 0 (e.g. 30), or remove replica_max_lag to keep the replica "
            "in rotation whatever its lag.",
        ),
        ("0.000", None),  # the same message as 0
        ("-1", LAG_INVALID),
        ("", LAG_INVALID),
        ("30s", LAG_INVALID),
        ("1e3", LAG_INVALID),
        ("inf", LAG_INVALID),
        ("nan", LAG_INVALID),
        ("%EF%BC%93", LAG_INVALID),  # a full-width digit
        ("1" + "0" * 18, LAG_HUGE_DIGITS),
        ("9" * 5000, LAG_HUGE_DIGITS),
        ("9" * 5000 + ".5", LAG_TOO_LARGE),
        (
            "0." + "0" * 4000 + "1",
            "parameter replica_max_lag has more than 9 digits after the decimal "
            "point; write at most 9 (e.g. 2.5).",
        ),
    ],
)
def test_replica_max_lag_must_be_a_sensible_number_of_seconds(value: str, message: str | None) -> None:
    found = problems(env(DATABASE_URL_R=replica("r", f"replica_of=default&replica_max_lag={value}")))
    (got,) = found["DATABASE_URL_R"]
    assert got == (
        message
        or problems(env(DATABASE_URL_R=replica("r", "replica_of=default&replica_max_lag=0")))[
            "DATABASE_URL_R"
        ][0]
    )
    assert len(value) < 10 or value[:10] not in got


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "is not a number of seconds"),
        ("1e3", "is not a number of seconds"),
        ("inf", "is not a number of seconds"),
        ("", "is not a number of seconds"),
        ("9" * 4000, "is too large a number of seconds; write at most 18 digits before the decimal point."),
        ("1." + "5" * 3000, "has more than 9 digits after the decimal point; write at most 9 (e.g. 2.5)."),
    ],
)
def test_pin_seconds_must_be_a_sensible_number(value: str, message: str) -> None:
    found = problems(env(DB_REPLICA_PIN_SECONDS=value))
    (got,) = found["DB_REPLICA_PIN_SECONDS"]
    assert got.startswith(message)


def test_pin_seconds_that_are_not_text_are_reported() -> None:
    found = problems(env(DB_REPLICA_PIN_SECONDS="1\udcff"))
    assert found["DB_REPLICA_PIN_SECONDS"][0].startswith("has bytes that are not UTF-8 text")


# -- end to end: python -m djcfg_env, the settings module, manage.py check -------------------------


def test_show_lists_each_primarys_replicas_and_marks_the_replicas() -> None:
    result = run(["python", "-m", "djcfg_env", "show"], env=LAYOUT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert PASSWORD not in out + result.stderr
    lines = [line.rstrip() for line in out.splitlines()]
    assert "    replicas: a_replica (replica_max_lag: none), default_replica (replica_max_lag: 30s)" in lines
    assert "    replicas: shop_replica (replica_max_lag: 2.5s)" in lines
    assert "  default_replica  (DATABASE_URL_DEFAULT_REPLICA)  [read-only: replica of default]" in lines
    assert "  shop_replica  (DATABASE_URL_SHOP_REPLICA)  [read-only: replica of shop_db]" in lines
    assert "  default  (DATABASE_URL)" in lines and "  shop_db  (DATABASE_URL_SHOP_DB)" in lines
    assert "    replica_max_lag: 2.5s" in lines
    assert (
        "Replica pin: reads stay on the primary for 15s after a client writes (DB_REPLICA_PIN_SECONDS)"
        in lines
    )

    as_json = run(
        ["python", "-m", "djcfg_env", "show", "--json"], env={**LAYOUT, "DB_REPLICA_PIN_SECONDS": "0"}
    )
    assert as_json.returncode == 0, as_json.stderr
    assert PASSWORD not in as_json.stdout
    data = json.loads(as_json.stdout)
    assert data["replicas"] == {"default": ["a_replica", "default_replica"], "shop_db": ["shop_replica"]}
    assert data["replica_pin_seconds"] == 0
    databases = data["databases"]
    assert databases["default"]["replicas"] == [
        {"alias": "a_replica", "replica_max_lag": None},
        {"alias": "default_replica", "replica_max_lag": 30},
    ]
    assert databases["default"]["replica_of"] is None and databases["default"]["replica_max_lag"] is None
    assert {
        key: databases["shop_replica"][key]
        for key in ("replica_of", "replica_max_lag", "replicas", "read_only", "test", "password")
    } == {
        "replica_of": "shop_db",
        "replica_max_lag": 2.5,
        "replicas": [],
        "read_only": True,
        "test": {"mirror": "shop_db"},
        "password": "***",
    }


def test_check_says_nothing_new_and_reports_replica_problems() -> None:
    ok = run(["python", "-m", "djcfg_env", "check"], env=LAYOUT)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout == (
        "djcfg-env: OK: 5 databases (default, a_replica, default_replica, shop_db, shop_replica), "
        "1 route, 3 read-only (a_replica, default_replica, shop_replica).\n"
    )
    bad = run(
        ["python", "-m", "djcfg_env", "check"],
        env={
            **LAYOUT,
            "DATABASE_URL_A_REPLICA": replica("r", "replica_of=default_replica"),
            "DB_REPLICA_PIN_SECONDS": "-5",
        },
    )
    assert bad.returncode == 1
    assert PASSWORD not in bad.stdout + bad.stderr
    assert bad.stderr.splitlines() == [
        "djcfg-env: 2 problems in the environment:",
        "  DATABASE_URL_A_REPLICA: parameter replica_of names 'default_replica', which is itself a "
        "replica (of 'default'); replicas of replicas are not supported: set replica_of=default (the "
        "primary both replicate).",
        "  DB_REPLICA_PIN_SECONDS: is not a number of seconds; write a number >= 0 (e.g. 15, the "
        "default, or 2.5; 0 turns off reading from the primary after a write), without a sign, "
        "exponent or unit.",
    ]


PUBLISH = (
    "import json\n"
    "from djcfg_env.settings import *\n"
    "print(json.dumps({'replicas': DATABASE_REPLICAS, 'lag': DATABASE_REPLICA_MAX_LAG,\n"
    "                  'pin': DB_REPLICA_PIN_SECONDS, 'read_only': sorted(READ_ONLY_DATABASES),\n"
    "                  'mirror': DATABASES['default_replica']['TEST']}))\n"
)


def test_the_settings_module_publishes_the_replica_settings() -> None:
    result = run(["python", "-c", PUBLISH], env={**LAYOUT, "DB_REPLICA_PIN_SECONDS": "2.5"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "replicas": {"default": ["a_replica", "default_replica"], "shop_db": ["shop_replica"]},
        "lag": {"default_replica": 30, "shop_replica": 2.5},
        "pin": 2.5,
        "read_only": ["a_replica", "default_replica", "shop_replica"],
        "mirror": {"MIRROR": "default"},
    }
    bad = run(
        ["python", "-c", PUBLISH],
        env={**LAYOUT, "DATABASE_URL_SHOP_REPLICA": replica("r", "replica_of=shop")},
    )
    assert bad.returncode == 1
    assert PASSWORD not in bad.stderr
    assert (
        "DATABASE_URL_SHOP_REPLICA: parameter replica_of names an alias that is not defined (did you "
        "mean shop_db?)"
    ) in bad.stderr


_ID = re.compile(r"\((djcfg_env\.[EW]\d{3})\)")
#: The seed layout of tests/check_projects, with a replica of shop_db.
SEED = {
    "SECRET_KEY": SECRET_KEY,
    "DATABASE_URL": f"postgres://app:{PASSWORD}@127.0.0.1:9/main",
    "DATABASE_URL_BLOG_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/blog",
    "DATABASE_URL_SHOP_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/shop",
    "DATABASE_URL_SHOP_REPLICA": f"postgres://reader:{PASSWORD}@127.0.0.1:9/shop?replica_of=shop_db",
    "DATABASE_URL_DEFAULT_REPLICA": f"postgres://reader:{PASSWORD}@127.0.0.1:9/main?replica_of=default",
    "DATABASE_URL_ANALYTICS": f"postgres://app:{PASSWORD}@127.0.0.1:9/analytics?read_only=true",
    "DB_ROUTE_BLOG": "blog_db",
    "DB_ROUTE_SHOP": "shop_db",
    "DB_ROUTE_ANALYTICS": "analytics",
}


def test_manage_py_check_warns_about_a_route_straight_to_a_replica_only() -> None:
    result = run(
        ["python", "manage.py", "check"], env={**SEED, "DB_ROUTE_SHOP": "shop_replica"}, cwd=CHECK_PROJECT
    )
    output = result.stdout + result.stderr
    assert PASSWORD not in output
    # A warning (exit 0), and no W003 for shop's managed models: the replica has shop_db's tables.
    assert (result.returncode, sorted(_ID.findall(output))) == (0, ["djcfg_env.W007"]), output
    assert (
        "DB_ROUTE_SHOP: (djcfg_env.W007) DB_ROUTE_SHOP routes the app 'shop' directly to "
        "'shop_replica', a read replica of 'shop_db'"
    ) in output


# -- placement: what the run time reads (tests/settings.py, in process) ----------------------------


def test_placement_reads_the_replicas_and_treats_a_replica_as_its_primarys_database() -> None:
    from django.test import override_settings

    from djcfg_env.orm import placement as placement_module
    from djcfg_env.orm.placement import placement

    assert {"DATABASE_REPLICAS", "DATABASE_REPLICA_MAX_LAG", "DB_REPLICA_PIN_SECONDS"} <= (
        placement_module.WATCHED_SETTINGS
    )
    replicas = {"blog_db": ["blog_db_replica", "blog_db_replica_2"], "default": ["replica"]}
    with override_settings(DATABASE_REPLICAS=replicas):
        where = placement()
        assert where.replicas == {
            "blog_db": ("blog_db_replica", "blog_db_replica_2"),
            "default": ("replica",),
        }
        assert where.primary_of["blog_db_replica_2"] == "blog_db" and where.primary_of["replica"] == "default"
        assert where.primary_of["blog_db"] == "blog_db" and where.primary_of["shop_db"] == "shop_db"
        assert set(where.primary_of) == set(where.aliases)
        assert where.is_replica("replica") and not where.is_replica("default")
        # A model's home stays the primary; a replica has exactly its primary's tables.
        from django.contrib.auth.models import User

        assert where.model_alias(User) == "default"
        assert where.foreign_tables["replica"] == where.foreign_tables["default"]
        assert "auth_user" not in where.foreign_tables["replica"]
        assert where.foreign_tables["blog_db_replica"] == where.foreign_tables["blog_db"]
        with override_settings(DB_REPLICA_PIN_SECONDS=0.0):
            assert placement() is not where  # a watched setting: built again
    with override_settings(DATABASE_REPLICAS={}):
        assert placement().replicas == {}
        assert "auth_user" in placement().foreign_tables["replica"]  # a plain read-only alias again
