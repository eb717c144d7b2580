"""System checks djcfg_env.E001-E003 and W001-W003, through ``manage.py check``.

Each scenario runs tests/check_projects/manage.py (the seed project in
tests/seed_project plus the apps named in EXTRA_APPS) in a subprocess, with
routes from the environment, and asserts the exact ids, messages, hints and exit code. The
URLs point at PostgreSQL with a distinctive password that must never be
printed; ``check`` does not connect, so no server is needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run
from tests.seed_project.harness import CHECK_PROJECT

PASSWORD = "Zebra-Check-Secret-7781"
_ID = re.compile(r"\((djcfg_env\.[EW]\d{3})\)")
ROOT = Path(__file__).resolve().parent.parent


def check(*args: str, **env: str):
    base = {
        "SECRET_KEY": "checks-not-a-secret",
        "DATABASE_URL": f"postgres://app:{PASSWORD}@127.0.0.1:9/main",
        "DATABASE_URL_BLOG_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/blog",
        "DATABASE_URL_SHOP_DB": f"postgres://app:{PASSWORD}@127.0.0.1:9/shop",
        "DATABASE_URL_ANALYTICS": f"postgres://app:{PASSWORD}@127.0.0.1:9/analytics?read_only=true",
        "DB_ROUTE_BLOG": "blog_db",
        "DB_ROUTE_SHOP": "shop_db",
        "DB_ROUTE_ANALYTICS": "analytics",
    }
    base.update(env)
    result = run(["python", "manage.py", "check", *args], env=base, cwd=CHECK_PROJECT)
    output = result.stdout + result.stderr
    assert PASSWORD not in output
    assert "Traceback" not in output, output
    return result.returncode, sorted(_ID.findall(output)), output


def lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines()]


def test_the_seed_layout_is_clean() -> None:
    code, ids, output = check()
    assert (code, ids) == (0, [])
    assert "System check identified no issues (0 silenced)." in output


def test_e001_cross_database_foreign_key_with_a_constraint() -> None:
    code, ids, output = check(EXTRA_APPS="badfk")
    assert (code, ids) == (1, ["djcfg_env.E001"])
    assert (
        "badfk.Note.post: (djcfg_env.E001) badfk.Note.post is a ForeignKey to blog.Post across "
        "databases: badfk.Note is on 'default' (not routed), blog.Post on 'blog_db' "
        "(DB_ROUTE_BLOG); a database cannot enforce a foreign key to a table in another "
        "database."
    ) in lines(output)
    assert (
        "HINT: Add db_constraint=False to badfk.Note.post (and make a migration), or route "
        "both apps to one alias."
    ) in lines(output)


def test_e001_not_raised_when_both_apps_share_an_alias() -> None:
    assert check(EXTRA_APPS="badfk", DB_ROUTE_BADFK="blog_db")[:2] == (0, [])


def test_e002_many_to_many_across_aliases() -> None:
    code, ids, output = check(EXTRA_APPS="badm2m")
    assert (code, ids) == (1, ["djcfg_env.E002"])
    assert (
        "badm2m.Tag.posts: (djcfg_env.E002) badm2m.Tag.posts is a ManyToManyField across "
        "databases: badm2m.Tag on 'default' (not routed), blog.Post on 'blog_db' "
        "(DB_ROUTE_BLOG), badm2m.Tag_posts on 'default' (not routed). Its queries join the "
        "through table to both tables, which cannot span two databases."
    ) in lines(output)
    assert (
        "HINT: Route the apps 'badm2m', 'blog' to one alias (DB_ROUTE_BADM2M, DB_ROUTE_BLOG), "
        "or replace the field with a model holding two ForeignKeys with db_constraint=False "
        "and query it by ids."
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


def test_w002_foreign_key_to_the_user_model_in_an_app_you_do_not_own() -> None:
    code, ids, output = check(EXTRA_APPS=ADMIN, DB_ROUTE_ADMIN="shop_db")
    assert (code, ids) == (0, ["djcfg_env.W002", "djcfg_env.W002"])
    assert (
        "admin.LogEntry.user: (djcfg_env.W002) admin.LogEntry.user is a ForeignKey to "
        "auth.User across databases: admin.LogEntry is on 'shop_db' (DB_ROUTE_ADMIN), "
        "auth.User on 'default' (not routed); a database cannot enforce a foreign key to a "
        "table in another database."
    ) in lines(output)
    assert (
        "HINT: Route the app 'admin' to 'default' next to auth.User (remove DB_ROUTE_ADMIN; "
        "unrouted apps are on default); the field is not in your code, so it cannot get "
        "db_constraint=False."
    ) in lines(output)
    assert any(
        line.startswith("admin.LogEntry.content_type: (djcfg_env.W002) admin.LogEntry.content_type "
                        "is a ForeignKey to contenttypes.ContentType across databases")
        for line in lines(output)
    )
    assert check(EXTRA_APPS=ADMIN)[:2] == (0, [])


def test_e001_foreign_key_to_the_user_model_in_your_own_app() -> None:
    # The seed's Post.author without db_constraint=False: your code, so an error with the fix.
    code, ids, output = check(EXTRA_APPS="userfk", DB_ROUTE_USERFK="shop_db")
    # Both rules of the issue hold for it: E001 (cross-database FK with a constraint) and
    # W002 (an app with a FK to the user model split from auth).
    assert (code, ids) == (1, ["djcfg_env.E001", "djcfg_env.W002"])
    assert (
        "userfk.Profile.user: (djcfg_env.E001) userfk.Profile.user is a OneToOneField to "
        "auth.User across databases: userfk.Profile is on 'shop_db' (DB_ROUTE_USERFK), "
        "auth.User on 'default' (not routed); a database cannot enforce a foreign key to a "
        "table in another database."
    ) in lines(output)
    assert (
        "HINT: Add db_constraint=False to userfk.Profile.user (and make a migration), or "
        "route both apps to one alias."
    ) in lines(output)
    assert (
        "HINT: Route the app 'userfk' to 'default' next to auth.User (remove DB_ROUTE_USERFK; "
        "unrouted apps are on default); or add db_constraint=False to userfk.Profile.user, "
        "as djcfg_env.E001 says."
    ) in lines(output)
    assert check(EXTRA_APPS="userfk")[:2] == (0, [])


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
    code, ids, _ = check(
        EXTRA_APPS=f"badfk,badm2m,m2mthrough,m2mlink,userfk,{ADMIN}",
        DB_ROUTE_ADMIN="blog_db",
        DB_ROUTE_M2MLINK="shop_db",
        DB_ROUTE_USERFK="shop_db",
        DB_ROUTE_BLGO="blog_db",
        DB_ROUTE_CONTENTTYPES="shop_db",
        DB_ROUTE_SHOP="analytics",
    )
    assert code == 1
    assert ids == [
        "djcfg_env.E001",
        "djcfg_env.E001",
        "djcfg_env.E002",
        "djcfg_env.E002",
        "djcfg_env.E003",
        "djcfg_env.W001",
        "djcfg_env.W002",
        "djcfg_env.W002",
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
            "EXTRA_APPS": "badfk",
        },
        cwd=CHECK_PROJECT,
    )
    assert result.returncode == 1
    assert "(djcfg_env.E001)" in result.stderr


@pytest.mark.parametrize("check_id", ["E001", "E002", "E003", "W001", "W002", "W003"])
def test_every_check_id_is_documented(check_id: str) -> None:
    source = (ROOT / "src" / "djcfg_env" / "checks.py").read_text()
    docs = (ROOT / "docs" / "routing.md").read_text()
    assert f'id="djcfg_env.{check_id}"' in source
    assert f"djcfg_env.{check_id}" in docs


def test_a_route_matches_an_app_label_with_capitals() -> None:
    # DB_ROUTE_<APP_LABEL> names labels lower-cased; the label 'CamelApp' is routed all the same.
    code, ids, output = check(EXTRA_APPS="camelapp.apps.CamelAppConfig", DB_ROUTE_CAMELAPP="shop_db")
    assert (code, ids) == (0, []), output
    env = {
        "SECRET_KEY": "x",
        "DATABASE_URL": "sqlite://",
        "DATABASE_URL_SHOP_DB": "sqlite://",
        "DB_ROUTE_CAMELAPP": "shop_db",
        "EXTRA_APPS": "camelapp.apps.CamelAppConfig",
    }
    script = (
        "from django.db import router\n"
        "from camelapp.models import Note\n"
        "print(router.db_for_read(Note), router.db_for_write(Note),"
        " router.allow_migrate('shop_db', 'CamelApp'), router.allow_migrate('default', 'CamelApp'))\n"
    )
    result = run(["python", "manage.py", "shell", "-v", "0", "-c", script], env=env, cwd=CHECK_PROJECT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["shop_db", "shop_db", "True", "False"]
