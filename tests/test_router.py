"""AppDatabaseRouter: reads, writes, allow_migrate and allow_relation.

Unit tests drive a router built from overridden settings; in process, the ORM
writes and reads the seed layout of tests/settings.py and the statements each
alias was sent are recorded; end to end, ``manage.py migrate --database`` of the
seed project (tests/seed_project) on SQLite files and real PostgreSQL databases,
each database looked at directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal

import pytest
from analytics.models import PageView
from blog.models import Comment, Post
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import router
from django.test import override_settings
from shop.models import Order

from djcfg_env.router import AppDatabaseRouter
from tests.conftest import BACKENDS, SEED_DATABASES, read_only_guard_off
from tests.seed_project.harness import InProcess, Seed

in_process = pytest.mark.django_db(databases=SEED_DATABASES)

_DATABASES = {alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
              for alias in ("default", "users_db", "replica")}


@pytest.fixture
def make_router() -> Iterator[object]:
    """A router answering for ``rules``: the settings stay overridden until the test ends."""
    overrides: list[override_settings] = []

    def make(rules: dict[str, str], read_only: frozenset[str] = frozenset()) -> AppDatabaseRouter:
        override = override_settings(
            DATABASE_ROUTING_RULES=rules, READ_ONLY_DATABASES=read_only, DATABASES=_DATABASES
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
            override.enable()
        overrides.append(override)
        return AppDatabaseRouter()

    yield make
    for override in reversed(overrides):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
            override.disable()


def test_reads_and_writes_follow_the_app_route(make_router) -> None:
    router = make_router({"auth": "users_db"})
    assert router.db_for_read(User) == "users_db"
    assert router.db_for_write(Group) == "users_db"
    assert router.db_for_read(ContentType) == "default"
    assert router.db_for_write(ContentType) == "default"


def test_the_app_rule_wins_over_instance_hints(make_router) -> None:
    router = make_router({"auth": "users_db"})
    on_default = ContentType(app_label="x", model="y")
    on_default._state.db = "default"
    on_users = User(username="u")
    on_users._state.db = "users_db"
    assert router.db_for_read(User, instance=on_default) == "users_db"
    assert router.db_for_write(ContentType, instance=on_users) == "default"


def test_the_router_answers_from_placement_and_follows_overridden_settings(make_router) -> None:
    from djcfg_env.orm import placement

    router = make_router({"auth": "users_db"})
    assert router.db_for_read(User) == "users_db"
    assert placement.HOME[User] == "users_db"  # remembered per model after the first question
    # A test that overrides the routes is seen by the next query (same router object).
    with override_settings(DATABASE_ROUTING_RULES={"auth": "default", "contenttypes": "users_db"}):
        assert User not in placement.HOME
        assert router.db_for_read(User) == "default"
        assert router.db_for_read(ContentType) == "users_db"
        assert router.allow_migrate("users_db", "auth") is False
    assert router.db_for_read(User) == "users_db"


def test_creating_a_router_changes_no_process_state(make_router) -> None:
    from django.contrib.auth.models import User as UserModel
    from django.db.models import QuerySet
    from django.db.models.sql.compiler import SQLCompiler

    from djcfg_env.orm import placement, readonly, switches

    before = (UserModel.save_base, QuerySet.update, SQLCompiler.get_from_clause,
              switches.installed(), readonly.guarded_aliases(), dict(placement.HOME))
    AppDatabaseRouter()
    AppDatabaseRouter()
    after = (UserModel.save_base, QuerySet.update, SQLCompiler.get_from_clause,
             switches.installed(), readonly.guarded_aliases(), dict(placement.HOME))
    assert after == before


def test_a_model_defined_later_is_routed_on_first_use(make_router) -> None:
    from djcfg_env.orm import placement

    router = make_router({"auth": "users_db"})
    proxy = type(
        "LateProxy", (User,), {"__module__": "django.contrib.auth.models",
                               "Meta": type("Meta", (), {"proxy": True, "app_label": "auth"})},
    )
    try:
        assert proxy not in placement.HOME
        assert router.db_for_read(proxy) == "users_db"
        assert placement.HOME[proxy] == "users_db"
    finally:
        from django.apps import apps

        del apps.all_models["auth"]["lateproxy"]
        apps.clear_cache()


def test_allow_migrate_only_on_the_apps_alias(make_router) -> None:
    router = make_router({"auth": "users_db"})
    assert router.allow_migrate("users_db", "auth", "user") is True
    assert router.allow_migrate("default", "auth", "user") is False
    assert router.allow_migrate("default", "contenttypes") is True
    assert router.allow_migrate("users_db", "contenttypes") is False
    assert router.allow_migrate("replica", "contenttypes") is False
    assert router.allow_migrate("not_configured", "auth") is False


def test_allow_migrate_nothing_on_a_read_only_alias(make_router) -> None:
    router = make_router({"auth": "replica"}, frozenset({"replica"}))
    for app_label in ("auth", "contenttypes", "djcfg_env", "anything"):
        assert router.allow_migrate("replica", app_label) is False
        assert router.allow_migrate("replica", app_label, model_name="x", model=User) is False
    assert router.allow_migrate("default", "contenttypes") is True


def test_a_read_only_default_gets_nothing(make_router) -> None:
    router = make_router({}, frozenset({"default"}))
    assert router.allow_migrate("default", "contenttypes") is False
    assert router.allow_migrate("default", "auth") is False


def test_allow_relation_between_configured_aliases(make_router) -> None:
    router = make_router({"auth": "users_db"})
    user = User(username="u")
    user._state.db = "users_db"
    content_type = ContentType(app_label="a", model="b")
    content_type._state.db = "default"
    assert router.allow_relation(user, content_type) is True
    unsaved = ContentType(app_label="c", model="d")
    assert unsaved._state.db is None
    assert router.allow_relation(user, unsaved) is True
    stray = ContentType(app_label="e", model="f")
    stray._state.db = "nowhere"
    assert router.allow_relation(user, stray) is False
    assert router.allow_relation(stray, user) is False


def test_repr_names_routes_and_read_only_aliases(make_router) -> None:
    router = make_router({"auth": "users_db"}, frozenset({"replica"}))
    assert repr(router) == "<AppDatabaseRouter routes=[auth->users_db] read_only=[replica]>"


@in_process
def test_reads_and_writes_go_where_the_routes_say(sql: InProcess) -> None:
    with read_only_guard_off():  # what the other system wrote
        sql.execute("analytics", "INSERT INTO analytics_pageview (path) VALUES ('seed')")
    user = User.objects.create(username="ada")
    post = Post.objects.create(author=user, title="Hello")
    Comment.objects.create(post=post, author=user, body="First")
    Order.objects.create(placed_by=user, total=Decimal("12"))
    with sql.sent() as sent:
        fresh = Post.objects.get(pk=post.pk)
        assert fresh.author.username == "ada"
        assert [p.title for p in User.objects.get(pk=user.pk).blog_posts.all()] == ["Hello"]
        assert [c.body for c in fresh.comments.all()] == ["First"]
        assert list(PageView.objects.values_list("path", flat=True)) == ["seed"]
        assert [str(total) for total in Order.objects.values_list("total", flat=True)] == ["12.00"]
    assert (post._state.db, user._state.db) == ("blog_db", "default")
    assert router.db_for_read(Post, instance=user) == "blog_db"  # the hint is ignored
    assert router.db_for_write(User, instance=post) == "default"
    assert Post(author=user, title="y")._state.db == "blog_db"  # assignment across databases
    unknown = User(username="ghost")
    unknown._state.db = "nowhere"
    with pytest.raises(ValueError) as refused:
        Post(author=unknown, title="x")
    assert str(refused.value) == 'Cannot assign "<User: ghost>": the current database router prevents this relation.'
    # The reads after the writes went exactly where the routes say.
    tables = ("auth_user", "blog_post", "blog_comment", "shop_order", "analytics_pageview")
    assert {
        alias: sorted({table for a, statement in sent if a == alias for table in tables if table in statement})
        for alias in SEED_DATABASES
    } == {
        "default": ["auth_user"],
        "blog_db": ["blog_comment", "blog_post"],
        "shop_db": ["shop_order"],
        "analytics": ["analytics_pageview"],
    }
    # And the rows are in the right databases, looked at directly.
    assert sql.rows("default", "SELECT id FROM auth_user WHERE username = 'ada'") == [(user.pk,)]
    assert sql.rows("blog_db", "SELECT title, author_id FROM blog_post") == [("Hello", user.pk)]
    assert sql.rows("blog_db", "SELECT body, author_id FROM blog_comment") == [("First", user.pk)]
    assert sql.rows("shop_db", "SELECT placed_by_id, total FROM shop_order") == [(user.pk, 12)]
    assert sql.rows("analytics", "SELECT path FROM analytics_pageview") == [("seed",)]
    for alias, table in (("default", "blog_post"), ("blog_db", "auth_user"), ("shop_db", "blog_post")):
        assert table not in sql.tables(alias)


@in_process
def test_migrate_puts_each_apps_tables_on_its_alias_only(sql: InProcess) -> None:
    # pytest-django ran migrate on each alias of tests/settings.py (the read-only one excepted).
    default = sql.tables("default")
    assert {"auth_user", "auth_group", "auth_permission", "django_content_type", "tagging_taggeditem"} <= default
    assert not {name for name in default if name.startswith(("blog_", "shop_", "analytics_", "library_"))}
    assert sql.tables("blog_db") == {"django_migrations", "blog_post", "blog_comment"}
    assert sql.tables("shop_db") == {
        "django_migrations", "shop_customer", "shop_order", "shop_wishlist", "shop_promotion", "library_book"
    }
    assert sql.rows("blog_db", "SELECT count(*) FROM django_migrations WHERE app = 'blog'") == [(1,)]
    assert sql.rows("shop_db", "SELECT count(*) FROM django_migrations WHERE app = 'shop'") == [(1,)]


# -- end to end: manage.py migrate --database, on SQLite files and PostgreSQL ---------------


@pytest.mark.parametrize("seed", BACKENDS, indirect=True)
def test_migrate_per_alias_creates_only_that_aliases_tables(seed: Seed) -> None:
    # The seed_project factory migrated each writable alias: manage.py migrate --database <alias>.
    default = seed.tables("default")
    assert {"auth_user", "auth_group", "auth_permission", "django_content_type"} <= default
    assert not {name for name in default if name.startswith(("blog_", "shop_", "analytics_"))}
    assert seed.tables("blog_db") == {"django_migrations", "blog_post", "blog_comment"}
    assert seed.tables("shop_db") == {
        "django_migrations", "shop_customer", "shop_order", "shop_wishlist", "shop_promotion"
    }
    # contenttypes/auth post_migrate steps ran on default only.
    assert seed.rows("default", "SELECT count(*) FROM django_content_type")[0][0] > 0
    assert seed.rows("blog_db", "SELECT count(*) FROM django_migrations WHERE app = 'blog'") == [(1,)]
    assert seed.rows("shop_db", "SELECT count(*) FROM django_migrations WHERE app = 'shop'") == [(1,)]


@pytest.mark.parametrize("seed", BACKENDS, indirect=True)
def test_migrate_on_the_read_only_alias_is_refused(seed: Seed) -> None:
    result = seed.manage("migrate", "--database", "analytics", "-v0")
    assert result.returncode == 1
    assert (
        "Refused to run a CREATE statement for django_migrations on the database alias "
        "'analytics': that alias is read-only (read_only=true in DATABASE_URL_ANALYTICS)"
    ) in result.stderr
    # Only the table the other system made (by hand, in the factory): not even django_migrations.
    assert seed.tables("analytics") == {"analytics_pageview"}
