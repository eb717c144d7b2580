"""The switchboard: ``DJCFG_ENV`` turns each change djcfg-env makes to Django on or off.

On (the default) each feature's methods are djcfg-env's; off, Django's own
methods are back in place (the very same objects, no wrapper in the call path)
and Django behaves as it does without djcfg-env, shown by a query or a delete
that gives Django's answer. Switches are read in ``ready()`` and again on
``setting_changed``, so ``override_settings(DJCFG_ENV=...)`` is all a test needs.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.contrib.auth.models import Group, Permission
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from djcfg_env import CrossDatabaseJoinError, ReadOnlyDatabaseError
from djcfg_env.checks import check_switches
from djcfg_env.orm import switches
from tests.conftest import ROOT, run

KEYS = [
    "READ_ONLY_GUARD",
    "JOIN_GUARD",
    "CROSS_DATABASE_SELECT_RELATED",
    "CROSS_DATABASE_DELETE",
    "CROSS_DATABASE_FOREIGN_KEYS",
    "GENERIC_RELATIONS",
    "TEST_DATABASES",
    "REPLICAS",
]
#: With these overrides every feature is needed (a read-only alias, a primary with a replica).
EVERY_FEATURE_NEEDED = {
    "READ_ONLY_DATABASES": frozenset({"default", "blog_db_replica"}),
    "DATABASE_REPLICAS": {"blog_db": ["blog_db_replica"]},
}
ALL_OFF = {key: False for key in KEYS}


def current(patch: switches.Patch) -> Any:
    """What the patched class itself holds under the patch's name now (None: inherited)."""
    return patch.owner().__dict__.get(patch.name)


@pytest.fixture
def pristine() -> dict[tuple[type, str], Any]:
    """Django's own methods, read with every switch off."""
    with override_settings(DJCFG_ENV=ALL_OFF):
        assert switches.installed() == frozenset()
        return {(patch.owner(), patch.name): current(patch) for _, patch in switches.patched_methods()}


def test_the_registry_lists_every_switch_in_one_place() -> None:
    assert switches.keys() == KEYS
    # Every feature replaces something and says what, and works on this Django.
    for feature in switches.features():
        assert feature.patches and feature.summary and feature.supported
    paths = {patch.path for _, patch in switches.patched_methods()}
    assert {
        "django.db.models.sql.compiler.SQLCompiler.get_from_clause",
        "django.db.models.base.Model.save_base",
        "django.db.models.deletion.Collector.collect",
        "django.contrib.contenttypes.models.ContentTypeManager.db_manager",
        "django.contrib.contenttypes.fields.GenericRelation.bulk_related_objects",
    } <= paths


def test_every_switch_is_on_by_default() -> None:
    # tests/settings.py has read-only aliases only under override (see below); the
    # read-only guard is installed only where some alias is read-only.
    expected = {"JOIN_GUARD", "CROSS_DATABASE_SELECT_RELATED", "CROSS_DATABASE_DELETE",
                "CROSS_DATABASE_FOREIGN_KEYS", "GENERIC_RELATIONS", "TEST_DATABASES"}
    from djcfg_env.orm.placement import placement

    if placement().read_only:
        expected.add("READ_ONLY_GUARD")
    assert switches.installed() == expected


@pytest.mark.parametrize("key", KEYS)
def test_one_switch_off_puts_back_djangos_methods_and_leaves_the_others_on(key, pristine) -> None:
    with override_settings(**EVERY_FEATURE_NEEDED):
        on = switches.installed()
        assert on == set(KEYS)
        with override_settings(DJCFG_ENV={key: False}):
            assert switches.installed() == set(KEYS) - {key}
            for feature, patch in switches.patched_methods():
                original = pristine[patch.owner(), patch.name]
                if feature.key == key:
                    assert current(patch) is original, patch.path  # the very same object
                else:
                    assert current(patch) is not original, patch.path
                    assert current(patch) is not None, patch.path
        assert switches.installed() == on


def test_off_for_every_switch_leaves_no_trace(pristine) -> None:
    with override_settings(DJCFG_ENV=ALL_OFF, **EVERY_FEATURE_NEEDED):
        assert switches.installed() == frozenset()
        for _, patch in switches.patched_methods():
            assert current(patch) is pristine[patch.owner(), patch.name], patch.path


# -- each switch on and off, by behaviour -------------------------------------------------

#: auth on its own alias: Permission (auth) joins ContentType (contenttypes, on default).
SPLIT = {
    "DATABASES": {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "users_db": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    },
    "DATABASE_ROUTING_RULES": {"auth": "users_db"},
}


@pytest.fixture
def split() -> Iterator[None]:
    import warnings

    override = override_settings(**SPLIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Overriding setting DATABASES"
        override.enable()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            override.disable()


def compile_join() -> str:
    """Permission (users_db) joined to ContentType (default), compiled for users_db."""
    query = Permission.objects.select_related("content_type").query
    sql, _params = query.get_compiler("default").as_sql()
    return str(sql)


def test_join_guard_on_refuses_a_cross_database_join_before_sending_it(split) -> None:
    with pytest.raises(CrossDatabaseJoinError):
        compile_join()


def test_join_guard_off_compiles_the_join_as_django_does(split) -> None:
    with override_settings(DJCFG_ENV={"JOIN_GUARD": False}):
        sql = compile_join()
    assert "JOIN" in sql and "django_content_type" in sql and "auth_permission" in sql


@pytest.mark.django_db
def test_read_only_guard_on_refuses_the_write(django_assert_num_queries) -> None:
    with override_settings(READ_ONLY_DATABASES=frozenset({"default"})):
        with django_assert_num_queries(0), pytest.raises(ReadOnlyDatabaseError):
            Group.objects.create(name="refused")
    assert not Group.objects.filter(name="refused").exists()


@pytest.mark.django_db
def test_read_only_guard_off_lets_django_write_as_it_would() -> None:
    with override_settings(READ_ONLY_DATABASES=frozenset({"default"}), DJCFG_ENV={"READ_ONLY_GUARD": False}):
        Group.objects.create(name="written")
        with connection.cursor() as cursor:  # no SQL guard on the connection either
            cursor.execute("UPDATE auth_group SET name = 'raw' WHERE name = 'written'")
    assert Group.objects.filter(name="raw").exists()


@pytest.mark.django_db
def test_read_only_guard_off_then_on_again_guards_the_open_connection() -> None:
    Group.objects.create(name="before")  # the connection is open
    with override_settings(READ_ONLY_DATABASES=frozenset({"default"})):
        with pytest.raises(ReadOnlyDatabaseError), connection.cursor() as cursor:
            cursor.execute("DELETE FROM auth_group")
    Group.objects.create(name="after")  # and writable again once the override ends
    assert set(Group.objects.values_list("name", flat=True)) == {"before", "after"}


# Cross-database delete and generic relations need tables in several databases: the
# seed project on SQLite files, in one manage.py shell that flips the switches.
SEED = ROOT / "tests" / "seed_project"
SEED_ROUTES = {
    "DB_ROUTE_BLOG": "blog_db", "DB_ROUTE_SHOP": "shop_db", "DB_ROUTE_LIBRARY": "shop_db",
    "DB_ROUTE_ANALYTICS": "analytics", "EXTRA_APPS": "tagging,library",
    "SECRET_KEY": "switch-tests", "PYTHONPATH": f"{ROOT / 'src'}:{SEED}",
    "DJANGO_SETTINGS_MODULE": "seedsite.settings",
}

SWITCHED_SHELL = textwrap.dedent(
    """
    import json
    from django.contrib.auth.models import User
    from django.db import DatabaseError
    from django.test import override_settings
    from blog.models import Post
    from library.models import Book

    def attempt(make):
        try:
            return ["ok", make()]
        except Exception as error:
            return [type(error).__name__, None]

    def delete_user(name):
        user = User.objects.create_user(name)
        Post.objects.create(title=name, author=user)
        return attempt(lambda: user.delete()[1])

    def tags_of_new_book(name):
        owner = User.objects.create_user(name)
        book = Book.objects.create(title=name, owner=owner)

        def tag_and_read():
            book.tags.create(tag="x")
            return sorted(t.tag for t in Book.objects.get(pk=book.pk).tags.all())

        return attempt(tag_and_read)

    out = {"delete_on": delete_user("on"), "generic_on": tags_of_new_book("g-on")}
    with override_settings(DJCFG_ENV={"CROSS_DATABASE_DELETE": False}):
        out["delete_off_guarded"] = delete_user("off-guarded")
    with override_settings(DJCFG_ENV={"CROSS_DATABASE_DELETE": False, "JOIN_GUARD": False}):
        out["delete_off"] = delete_user("off")
    with override_settings(DJCFG_ENV={"GENERIC_RELATIONS": False, "JOIN_GUARD": False}):
        out["generic_off"] = tags_of_new_book("g-off")
    out["posts_left"] = sorted(Post.objects.values_list("title", flat=True))
    print("RESULT:" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def seed_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where: Path = tmp_path_factory.mktemp("switches")
    env = {
        **SEED_ROUTES,
        "DATABASE_URL": f"sqlite:///{where / 'main.sqlite3'}",
        "DATABASE_URL_BLOG_DB": f"sqlite:///{where / 'blog.sqlite3'}",
        "DATABASE_URL_SHOP_DB": f"sqlite:///{where / 'shop.sqlite3'}",
        "DATABASE_URL_ANALYTICS": f"sqlite:///{where / 'analytics.sqlite3'}?read_only=true",
    }
    migrated = run(["python", "-m", "django", "migrate_all", "--noinput", "-v", "0"], env=env, cwd=SEED)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return env


def test_cross_database_delete_and_generic_relations_on_and_off(seed_env) -> None:
    result = run(["python", "-m", "django", "shell", "-v", "0", "-c", SWITCHED_SHELL], env=seed_env, cwd=SEED)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.split("RESULT:", 1)[1])
    # On: the user's post in blog_db is deleted with the user, and counted.
    assert out["delete_on"] == ["ok", {"blog.Post": 1, "auth.User": 1}]
    # Off: Django looks for the posts on the user's database, where blog_post is not
    # (with the join guard still on, that query is refused before it is sent).
    assert out["delete_off"][0] == "OperationalError"
    assert out["delete_off_guarded"][0] == "CrossDatabaseJoinError"
    assert out["posts_left"] == ["off", "off-guarded"]
    # On: the book's tags (on default) are found through its content type; off, Django
    # asks the book's database (shop_db) for the content type, where there is none.
    assert out["generic_on"] == ["ok", ["x"]]
    assert out["generic_off"][0] == "OperationalError"


# -- the check: DJCFG_ENV itself -----------------------------------------------------------


def e004(value: object) -> list[django_checks.CheckMessage]:
    with override_settings(DJCFG_ENV=value):
        return [m for m in check_switches() if m.id == "djcfg_env.E004"]


def test_an_unknown_key_is_an_error_naming_it_and_listing_the_valid_ones() -> None:
    (error,) = e004({"JOIN_GAURD": False})
    assert isinstance(error, django_checks.Error)
    assert error.msg == "DJCFG_ENV has the unknown key 'JOIN_GAURD'."
    assert error.hint == (
        "Did you mean 'JOIN_GUARD'? Valid keys: READ_ONLY_GUARD, JOIN_GUARD, CROSS_DATABASE_SELECT_RELATED, "
        "CROSS_DATABASE_DELETE, CROSS_DATABASE_FOREIGN_KEYS, GENERIC_RELATIONS, TEST_DATABASES, REPLICAS."
    )


def test_a_non_boolean_value_and_a_non_dict_are_errors() -> None:
    (error,) = e004({"JOIN_GUARD": "false"})
    assert error.msg == "DJCFG_ENV['JOIN_GUARD'] is a str, not True or False."
    (error,) = e004(["JOIN_GUARD"])
    assert error.msg == "DJCFG_ENV is a list, not a dict of switches."
    assert "valid keys: READ_ONLY_GUARD, JOIN_GUARD" in error.hint
    assert e004({"JOIN_GUARD": False, "CROSS_DATABASE_DELETE": True}) == []
    assert e004(None) == []


def test_invalid_switches_stop_manage_py_check_and_leave_every_feature_on() -> None:
    with override_settings(DJCFG_ENV={"JOIN_GUARD": 0, "NOPE": False}):
        # At run time an invalid entry counts as on: an error must not switch a guard off.
        assert {"JOIN_GUARD", "CROSS_DATABASE_DELETE", "GENERIC_RELATIONS"} <= switches.installed()
        with pytest.raises(SystemCheckError) as raised:
            call_command("check")
    text = str(raised.value)
    assert "djcfg_env.E004" in text and "'NOPE'" in text and "DJCFG_ENV['JOIN_GUARD'] is a int" in text


def test_a_django_version_outside_the_supported_range_installs_nothing_and_warns(monkeypatch) -> None:
    monkeypatch.setattr(django, "VERSION", (9, 0, 0, "final", 0))
    try:
        assert switches.apply() == frozenset()
        warnings = [m for m in check_switches() if m.id == "djcfg_env.W004"]
        assert [w.msg.split("]")[0] for w in warnings] == [f"DJCFG_ENV[{key!r}" for key in KEYS]
        assert "not installed on this Django" in warnings[0].msg
    finally:
        monkeypatch.undo()
        switches.apply()
    assert "JOIN_GUARD" in switches.installed()


# -- private signatures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "patch",
    [patch for _, patch in switches.patched_methods()] + [private for _, private in switches.private_calls()],
    ids=lambda p: p.path,
)
def test_each_replaced_method_still_has_the_parameters_the_replacement_assumes(patch) -> None:
    assert switches.signature_mismatch(patch) is None


def test_a_changed_signature_fails_naming_the_method() -> None:
    from djcfg_env.orm import cross_delete

    collect = next(p for p in cross_delete.FEATURE.patches if p.name == "collect")
    changed = switches.Patch(collect.owner, "collect", collect.wrap, assumes=("self", "objs", "origin"))
    message = switches.signature_mismatch(changed)
    assert message is not None
    assert message.startswith("django.db.models.deletion.Collector.collect: djcfg-env assumes the parameters")
