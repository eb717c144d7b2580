"""System checks djcfg_env.E001-E007 and W001-W006: their ids, messages, hints and exit codes.

In process, each scenario runs ``call_command("check")`` with the settings
tests/check_projects/manage.py would have for the environment the test gives
(:func:`check`, :func:`seed_settings`): the seed project's apps
(tests/seed_project) plus the apps of tests/check_projects in EXTRA_APPS, and
what ``load()`` resolves from the seed's variables plus the test's ``DB_ROUTE_*``
ones, put in place with ``override_settings``. End to end, tests/check_projects/
manage.py runs ``check`` (and ``migrate``, ``shell``) in a subprocess, as a user
does. The URLs point at PostgreSQL with a distinctive password that must never
be printed; ``check`` does not connect, so no server is needed.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from djcfg_env import load
from tests.conftest import run
from tests.seed_project.harness import CHECK_PROJECT

PASSWORD = "Zebra-Check-Secret-7781"
_ID = re.compile(r"\((djcfg_env\.[EW]\d{3})\)")
ROOT = Path(__file__).resolve().parent.parent
#: The seed's environment, as every scenario starts from it.
SEED_ENVIRONMENT = {
    "SECRET_KEY": "checks-not-a-secret",
    "DATABASE_URL": f"postgres://app:{PASSWORD}@127.0.0.1:9/main",
    "DATABASE_URL_BLOG_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/blog",
    "DATABASE_URL_SHOP_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/shop",
    "DATABASE_URL_ANALYTICS": f"postgres://app:{PASSWORD}@127.0.0.1:9/analytics?read_only=true",
    "DB_ROUTE_BLOG": "blog_db",
    "DB_ROUTE_SHOP": "shop_db",
    "DB_ROUTE_ANALYTICS": "analytics",
}
#: INSTALLED_APPS of tests/seed_project/seedsite/settings.py; EXTRA_APPS come after them.
SEED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djcfg_env", "blog", "shop", "analytics"]
#: The settings load() resolves that a scenario overrides.
_RESOLVED = ("DATABASES", "DATABASE_ROUTERS", "DATABASE_ROUTING_RULES", "READ_ONLY_DATABASES")

# The apps that make one check fire (badfk, badm2m, ...), importable as in tests/check_projects/manage.py.
if str(CHECK_PROJECT) not in sys.path:
    sys.path.append(str(CHECK_PROJECT))


def seed_settings(**env: str) -> dict[str, Any]:
    """What tests/seed_project/seedsite/settings.py makes of the seed's environment plus ``env``.

    ``EXTRA_APPS`` (comma-separated) adds apps; ``SEED_DJCFG_ENV`` (JSON) sets the
    switches; ``SEED_MISTAKE`` makes one of the mistakes the checks catch; the other
    variables (``DB_ROUTE_*``) go to ``load()`` with the seed's.
    """
    hooks = {"EXTRA_APPS", "SEED_DJCFG_ENV", "SEED_MISTAKE"}
    resolved = load({**SEED_ENVIRONMENT, **{name: value for name, value in env.items() if name not in hooks}})
    overrides = {name: value for name, value in resolved.as_django_settings().items() if name in _RESOLVED}
    overrides["INSTALLED_APPS"] = [*SEED_APPS, *[app for app in env.get("EXTRA_APPS", "").split(",") if app]]
    if env.get("SEED_DJCFG_ENV"):
        overrides["DJCFG_ENV"] = json.loads(env["SEED_DJCFG_ENV"])
    mistake = env.get("SEED_MISTAKE", "")
    if mistake == "databases-reassigned":
        overrides["DATABASES"] = {"default": overrides["DATABASES"]["default"]}
    elif mistake == "routers-reassigned":
        overrides["DATABASE_ROUTERS"] = []
    elif mistake:
        raise ValueError(f"no in-process version of SEED_MISTAKE={mistake!r}")
    return overrides


@contextmanager
def seed_project(**env: str) -> Iterator[None]:
    """The :func:`seed_settings` of ``env`` in place (``override_settings``) inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
        with override_settings(**seed_settings(**env)):
            yield


def check(*args: str, **env: str) -> tuple[int, list[str], str]:
    """``manage.py check <args>`` in process, in :func:`seed_project`: (exit code, sorted ids, output)."""
    out, err = StringIO(), StringIO()
    code, raised = 0, ""
    with seed_project(**env):
        try:
            call_command("check", *args, stdout=out, stderr=err)
        except SystemCheckError as error:
            code, raised = 1, str(error)
    output = out.getvalue() + err.getvalue() + raised
    assert PASSWORD not in output
    return code, sorted(_ID.findall(output)), output


def check_in_subprocess(*args: str, **env: str) -> tuple[int, list[str], str]:
    """``manage.py check <args>`` of tests/check_projects in a subprocess: the seed's environment plus ``env``."""
    result = run(["python", "manage.py", "check", *args], env={**SEED_ENVIRONMENT, **env}, cwd=CHECK_PROJECT)
    output = result.stdout + result.stderr
    assert PASSWORD not in output
    assert "Traceback" not in output, output
    return result.returncode, sorted(_ID.findall(output)), output


def lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines()]


def test_the_seed_layout_is_clean() -> None:
    code, ids, output = check_in_subprocess()
    assert (code, ids) == (0, [])
    assert "System check identified no issues (0 silenced)." in output
    assert check() == (0, [], "System check identified no issues (0 silenced).\n")


FK_SWITCH_OFF = '{"CROSS_DATABASE_FOREIGN_KEYS": false}'


def test_a_cross_database_foreign_key_with_a_constraint_is_fine_while_no_constraint_is_made() -> None:
    # CROSS_DATABASE_FOREIGN_KEYS (on by default) creates no constraint across databases.
    assert check(EXTRA_APPS="badfk")[:2] == (0, [])


def test_e001_cross_database_foreign_key_with_a_constraint_and_the_switch_off() -> None:
    code, ids, output = check(EXTRA_APPS="badfk", SEED_DJCFG_ENV=FK_SWITCH_OFF)
    assert (code, ids) == (1, ["djcfg_env.E001"])
    assert (
        "badfk.Note.post: (djcfg_env.E001) badfk.Note.post is a ForeignKey to blog.Post across "
        "databases (badfk.Note on 'default' (not routed), blog.Post on 'blog_db' (DB_ROUTE_BLOG)) "
        "with a database constraint, and DJCFG_ENV['CROSS_DATABASE_FOREIGN_KEYS'] is off: "
        "migrating it fails, because a database cannot enforce a foreign key to a table in "
        "another database."
    ) in lines(output)
    assert (
        "HINT: Turn CROSS_DATABASE_FOREIGN_KEYS back on (remove it from DJCFG_ENV), or add "
        "db_constraint=False to badfk.Note.post and make a migration, or route the apps 'badfk', "
        "'blog' to one alias (DB_ROUTE_BADFK, DB_ROUTE_BLOG)."
    ) in lines(output)


def test_e001_not_raised_when_both_apps_share_an_alias() -> None:
    assert check(EXTRA_APPS="badfk", DB_ROUTE_BADFK="blog_db", SEED_DJCFG_ENV=FK_SWITCH_OFF)[:2] == (0, [])


def test_e002_many_to_many_across_aliases() -> None:
    code, ids, output = check(EXTRA_APPS="badm2m")
    assert (code, ids) == (1, ["djcfg_env.E002"])
    assert (
        "badm2m.Tag.posts: (djcfg_env.E002) badm2m.Tag.posts is a many-to-many relation across "
        "databases: badm2m.Tag_posts on 'default' (not routed), badm2m.Tag on 'default' (not "
        "routed), blog.Post on 'blog_db' (DB_ROUTE_BLOG). Its queries join the through table to "
        "the tables it points at, which one database cannot do across two."
    ) in lines(output)
    assert (
        "HINT: Route the apps 'badm2m', 'blog' to one alias (DB_ROUTE_BADM2M, DB_ROUTE_BLOG), "
        "or replace the field with a model holding two ForeignKeys and query it by ids."
    ) in lines(output)


def test_e002_through_model_on_another_alias() -> None:
    code, ids, output = check(EXTRA_APPS="m2mthrough,m2mlink", DB_ROUTE_M2MLINK="shop_db")
    assert (code, ids) == (1, ["djcfg_env.E002"])
    assert "m2mlink.Link on 'shop_db' (DB_ROUTE_M2MLINK)" in output
    assert check(EXTRA_APPS="m2mthrough,m2mlink")[:2] == (0, [])


def test_e003_route_to_an_app_that_is_not_installed() -> None:
    code, ids, output = check(DB_ROUTE_BLGO="blog_db")
    assert (code, ids) == (1, ["djcfg_env.E003"])
    assert (
        "DB_ROUTE_BLGO: (djcfg_env.E003) DB_ROUTE_BLGO routes the app label 'blgo' to "
        "'blog_db', but no installed app has that label, so the route does nothing."
    ) in lines(output)
    assert (
        "HINT: Did you mean the app label 'blog'? Rename the variable to DB_ROUTE_BLOG, or "
        "add the app 'blgo' to INSTALLED_APPS."
    ) in lines(output)


def test_e003_without_a_close_label_lists_the_installed_ones() -> None:
    code, ids, output = check(DB_ROUTE_ZZQQXX="shop_db")
    assert (code, ids) == (1, ["djcfg_env.E003"])
    assert (
        "HINT: Installed app labels: analytics, auth, blog, contenttypes, djcfg_env, shop. "
        "Route one of them, add the app 'zzqqxx' to INSTALLED_APPS, or remove DB_ROUTE_ZZQQXX."
    ) in lines(output)


def test_w001_auth_and_contenttypes_split() -> None:
    code, ids, output = check(DB_ROUTE_CONTENTTYPES="shop_db")
    # A warning: reported once (not again as W002 for auth.Permission), exit 0...
    assert (code, ids) == (0, ["djcfg_env.W001"])
    assert (
        "auth: (djcfg_env.W001) The app 'auth' is on 'default' (not routed) and the app "
        "'contenttypes' on 'shop_db' (DB_ROUTE_CONTENTTYPES): auth.Permission has a ForeignKey "
        "to ContentType, so migrating auth fails on PostgreSQL and creating permissions after "
        "migrate reads content types from the wrong database."
    ) in lines(output)
    assert (
        "HINT: Route both to one alias: set DB_ROUTE_AUTH and DB_ROUTE_CONTENTTYPES to the "
        "same alias (or remove both to keep them on default); now 'default' and 'shop_db'."
    ) in lines(output)
    # ...and exit 1 when warnings fail the check.
    assert check("--fail-level", "WARNING", DB_ROUTE_CONTENTTYPES="shop_db")[:2] == (
        1, ["djcfg_env.W001"]
    )
    # Moving both together is clean.
    assert check(DB_ROUTE_CONTENTTYPES="shop_db", DB_ROUTE_AUTH="shop_db")[:2] == (0, [])


ADMIN = "django.contrib.admin,django.contrib.messages,django.contrib.sessions"


def test_w002_an_app_with_a_foreign_key_to_content_types_must_share_their_alias() -> None:
    code, ids, output = check(EXTRA_APPS="tagging", DB_ROUTE_TAGGING="shop_db")
    assert (code, ids) == (0, ["djcfg_env.W002"])
    assert (
        "tagging.TaggedItem.content_type: (djcfg_env.W002) tagging.TaggedItem.content_type is a "
        "ForeignKey to ContentType, but the app 'tagging' is on 'shop_db' (DB_ROUTE_TAGGING) and "
        "contenttypes on 'default' (not routed): its content-type lookups join "
        "django_content_type, which one database cannot do across two. The apps 'tagging' and "
        "'contenttypes' must share an alias."
    ) in lines(output)
    assert (
        "HINT: Put them together: route the apps 'contenttypes', 'tagging' to one alias "
        "(DB_ROUTE_CONTENTTYPES, DB_ROUTE_TAGGING)."
    ) in lines(output)
    assert check(EXTRA_APPS="tagging")[:2] == (0, [])


def test_the_admin_and_its_content_type_key_may_live_on_an_alias_of_their_own() -> None:
    # LogEntry.user and LogEntry.content_type cross databases: no constraint is made, and the
    # admin only compares content types by id (CONTENT_TYPE_BY_ID_APPS).
    assert check(EXTRA_APPS=ADMIN, DB_ROUTE_ADMIN="shop_db")[:2] == (0, [])


def test_w005_a_foreign_key_you_do_not_own_with_the_switch_off() -> None:
    code, ids, output = check(EXTRA_APPS=ADMIN, DB_ROUTE_ADMIN="shop_db", SEED_DJCFG_ENV=FK_SWITCH_OFF)
    assert (code, ids) == (0, ["djcfg_env.W005", "djcfg_env.W005"])
    assert (
        "HINT: The field is not in your code: turn CROSS_DATABASE_FOREIGN_KEYS back on (remove "
        "it from DJCFG_ENV), or route the apps 'admin', 'auth' to one alias (DB_ROUTE_ADMIN, "
        "DB_ROUTE_AUTH)."
    ) in lines(output)


def test_a_foreign_key_to_the_user_model_in_your_own_app() -> None:
    # Nothing to fix with the switch on; E001 (your code: an error with the fix) with it off.
    assert check(EXTRA_APPS="userfk", DB_ROUTE_USERFK="shop_db")[:2] == (0, [])
    code, ids, output = check(EXTRA_APPS="userfk", DB_ROUTE_USERFK="shop_db", SEED_DJCFG_ENV=FK_SWITCH_OFF)
    assert (code, ids) == (1, ["djcfg_env.E001"])
    assert any(line.startswith("userfk.Profile.user: (djcfg_env.E001) userfk.Profile.user is a "
                               "OneToOneField to auth.User across databases") for line in lines(output))


def test_e007_multi_table_inheritance_across_aliases() -> None:
    code, ids, output = check(EXTRA_APPS="mtichild")
    assert (code, ids) == (1, ["djcfg_env.E007"])
    assert (
        "mtichild.FeaturedPost: (djcfg_env.E007) mtichild.FeaturedPost inherits from blog.Post "
        "(multi-table inheritance), but they are on different aliases: mtichild.FeaturedPost on "
        "'default' (not routed), blog.Post on 'blog_db' (DB_ROUTE_BLOG). Each row of "
        "mtichild.FeaturedPost is a row in both tables, read with a join and saved in one "
        "transaction, which cannot span two databases."
    ) in lines(output)
    assert check(EXTRA_APPS="mtichild", DB_ROUTE_MTICHILD="blog_db")[:2] == (0, [])


def test_e005_databases_assigned_again_below_the_star_import() -> None:
    code, ids, output = check(SEED_MISTAKE="databases-reassigned")
    assert (code, ids) == (1, ["djcfg_env.E005"])
    assert (
        "DATABASES: (djcfg_env.E005) DATABASES has no alias 'analytics', 'blog_db', 'shop_db', but "
        "the environment routes apps there or marks it read-only: DATABASES was changed after "
        "'from djcfg_env.settings import *', so those apps' queries fail."
    ) in lines(output)


def test_e006_database_routers_assigned_again_below_the_star_import() -> None:
    code, ids, output = check(SEED_MISTAKE="routers-reassigned")
    assert (code, ids) == (1, ["djcfg_env.E006"])
    assert any(line.startswith("DATABASE_ROUTERS: (djcfg_env.E006) DATABASE_ROUTERS has no "
                               "djcfg_env.router.AppDatabaseRouter, but the environment routes apps "
                               "(analytics, blog, shop)") for line in lines(output))


def test_the_router_refuses_to_work_without_the_djcfg_env_app() -> None:
    env = {
        "SECRET_KEY": "x", "DATABASE_URL": "sqlite://", "DATABASE_URL_BLOG_DB": "sqlite://",
        "DB_ROUTE_BLOG": "blog_db", "SEED_MISTAKE": "without-djcfg-env-app",
    }
    script = "from django.contrib.auth.models import User\nUser.objects.count()\n"
    result = run(["python", "manage.py", "shell", "-v", "0", "-c", script], env=env, cwd=CHECK_PROJECT)
    assert result.returncode == 1
    assert (
        "django.core.exceptions.ImproperlyConfigured: djcfg_env.router.AppDatabaseRouter is in "
        "DATABASE_ROUTERS, but 'djcfg_env' is not in INSTALLED_APPS"
    ) in result.stderr


def test_w003_managed_models_on_a_read_only_alias() -> None:
    code, ids, output = check(DB_ROUTE_SHOP="analytics")
    assert (code, ids) == (0, ["djcfg_env.W003"])
    assert (
        "shop: (djcfg_env.W003) The app 'shop' is routed to the read-only alias 'analytics' "
        "(DB_ROUTE_SHOP) but has managed models (shop.Customer, shop.Order, shop.Promotion and 1 "
        "more): migrations never run on a read-only alias, so Django will never create or change "
        "their tables."
    ) in lines(output)
    assert (
        "HINT: Set managed = False in the Meta of those models if their tables are created "
        "elsewhere, or route the app to a writable alias (or remove read_only=true from its URL)."
    ) in lines(output)


def test_every_problem_at_once() -> None:
    code, ids, _ = check_in_subprocess(
        EXTRA_APPS=f"badfk,badm2m,m2mthrough,m2mlink,userfk,tagging,{ADMIN}",
        DB_ROUTE_ADMIN="blog_db",
        DB_ROUTE_M2MLINK="shop_db",
        DB_ROUTE_USERFK="shop_db",
        DB_ROUTE_BLGO="blog_db",
        DB_ROUTE_CONTENTTYPES="shop_db",
        DB_ROUTE_SHOP="analytics",
    )
    assert code == 1
    assert ids == [
        "djcfg_env.E002",
        "djcfg_env.E002",
        "djcfg_env.E003",
        "djcfg_env.W001",
        "djcfg_env.W002",
        "djcfg_env.W003",
    ]


def test_checks_run_before_migrate() -> None:
    result = run(
        ["python", "manage.py", "migrate", "--plan"],
        env={
            "SECRET_KEY": "x",
            "DATABASE_URL": "sqlite://",
            "DATABASE_URL_BLOG_DB": "sqlite://",
            "DATABASE_URL_SHOP_DB": "sqlite://",
            "DATABASE_URL_ANALYTICS": "sqlite://",
            "DB_ROUTE_BLOG": "blog_db",
            "DB_ROUTE_SHOP": "shop_db",
            "DB_ROUTE_ANALYTICS": "analytics",
            "EXTRA_APPS": "badm2m",
        },
        cwd=CHECK_PROJECT,
    )
    assert result.returncode == 1
    assert "(djcfg_env.E002)" in result.stderr


@pytest.mark.parametrize(
    "check_id",
    ["E001", "E002", "E003", "E004", "E005", "E006", "E007", "W001", "W002", "W003", "W004", "W005", "W006"],
)
def test_every_check_id_is_documented(check_id: str) -> None:
    source = (ROOT / "src" / "djcfg_env" / "checks.py").read_text()
    docs = (ROOT / "docs" / "routing.md").read_text()
    assert f'id="djcfg_env.{check_id}"' in source
    assert f"djcfg_env.{check_id}" in docs


def test_a_route_matches_an_app_label_with_capitals() -> None:
    # DB_ROUTE_<APP_LABEL> names labels lower-cased; the label 'CamelApp' is routed all the same.
    code, ids, output = check(EXTRA_APPS="camelapp.apps.CamelAppConfig", DB_ROUTE_CAMELAPP="shop_db")
    assert (code, ids) == (0, []), output
    with seed_project(EXTRA_APPS="camelapp.apps.CamelAppConfig", DB_ROUTE_CAMELAPP="shop_db"):
        from camelapp.models import Note
        from django.db import router

        assert (router.db_for_read(Note), router.db_for_write(Note)) == ("shop_db", "shop_db")
        assert router.allow_migrate("shop_db", "CamelApp") is True
        assert router.allow_migrate("default", "CamelApp") is False


# -- W007: a route straight to a read replica (replica_of) ------------------------------------

#: A read replica of shop_db, added to the seed's environment.
SHOP_REPLICA = {"DATABASE_URL_SHOP_REPLICA": f"postgres://reader:{PASSWORD}@127.0.0.1:9/shop?replica_of=shop_db"}


def replica_check(*args: str, silenced: tuple[str, ...] = (), **env: str) -> tuple[int, list[str], str]:
    """:func:`check` with the replicas load() resolves from the seed's environment plus ``env``."""
    replicas = load({**SEED_ENVIRONMENT, **env}).DATABASE_REPLICAS
    out, err = StringIO(), StringIO()
    code, raised = 0, ""
    with seed_project(**env), override_settings(DATABASE_REPLICAS=replicas, SILENCED_SYSTEM_CHECKS=list(silenced)):
        try:
            call_command("check", *args, stdout=out, stderr=err)
        except SystemCheckError as error:
            code, raised = 1, str(error)
    output = out.getvalue() + err.getvalue() + raised
    assert PASSWORD not in output
    return code, sorted(_ID.findall(output)), output


def test_w007_a_route_straight_to_a_replica() -> None:
    code, ids, output = replica_check(DB_ROUTE_SHOP="shop_replica", **SHOP_REPLICA)
    # Not W003 as well: the replica has its primary's tables, by replication.
    assert (code, ids) == (0, ["djcfg_env.W007"])
    assert (
        "DB_ROUTE_SHOP: (djcfg_env.W007) DB_ROUTE_SHOP routes the app 'shop' directly to "
        "'shop_replica', a read replica of 'shop_db': every query of the app goes to that replica "
        "(never to 'shop_db', whatever the replica's lag), and its writes are refused."
    ) in lines(output)
    assert (
        "HINT: Route the app to the primary instead (set DB_ROUTE_SHOP=shop_db): its writes then go "
        "to 'shop_db' and its reads to the replicas. If the app only reads (a read-only reporting "
        "app), keep the route and silence this warning with SILENCED_SYSTEM_CHECKS = "
        '["djcfg_env.W007"].'
    ) in lines(output)
    # --fail-level WARNING makes it stop a deploy; silencing it is the documented way out.
    assert replica_check("--fail-level", "WARNING", DB_ROUTE_SHOP="shop_replica", **SHOP_REPLICA)[:2] == (
        1, ["djcfg_env.W007"]
    )
    assert replica_check(
        "--fail-level", "WARNING", silenced=("djcfg_env.W007",), DB_ROUTE_SHOP="shop_replica", **SHOP_REPLICA
    )[:2] == (0, [])


def test_w007_hint_for_a_replica_of_default_and_replicas_nobody_routes_to_are_clean() -> None:
    replica_of_default = {"DATABASE_URL_MAIN_REPLICA": f"postgres://r:{PASSWORD}@127.0.0.1:9/main?replica_of=default"}
    code, ids, output = replica_check(DB_ROUTE_BLOG="main_replica", **replica_of_default)
    assert (code, ids) == (0, ["djcfg_env.W007"]), output
    assert "HINT: Route the app to the primary instead (remove DB_ROUTE_BLOG; unrouted apps are on default)" in output
    # Replicas only read from (no route to them): nothing to say, not even W003.
    assert replica_check(**replica_of_default, **SHOP_REPLICA)[:2] == (0, [])


def test_w007_is_documented() -> None:
    assert 'id="djcfg_env.W007"' in (ROOT / "src" / "djcfg_env" / "checks.py").read_text()
    assert "djcfg_env.W007" in (ROOT / "docs" / "routing.md").read_text()
