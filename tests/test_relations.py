"""Cross-database relations in the seed layout: reads, writes and ``on_delete`` across databases.

auth/contenttypes on ``default``, blog on ``blog_db``, shop on ``shop_db``,
analytics on a read-only alias. In process (tests/settings.py: each alias an
in-memory SQLite database of pytest-django's), every scenario runs through the
ORM and the rows are read back with SQL on each alias's own connection (the
``sql`` fixture), so a row in the wrong database cannot hide. End to end, on
real PostgreSQL databases (a constraint per foreign key within a database, a
server per alias), a user's delete in ``manage.py shell`` cascades through
three databases. (tests/test_seed_walkthrough.py runs the guide's shell session
on SQLite files and PostgreSQL; tests/test_mariadb.py runs the end-to-end
scenarios of tests/seed_project/scenarios.py on MariaDB.)
"""

from __future__ import annotations

from typing import Any

import pytest
from analytics.models import PageView
from blog.models import Comment, Post
from django.contrib.auth.models import User
from django.db.models import ProtectedError, RestrictedError
from django.db.models.signals import pre_delete
from django.test import override_settings
from seedsite.world import make_world
from shop.models import Customer, Wishlist

from djcfg_env.readonly import ReadOnlyDatabaseError
from tests.conftest import SEED_DATABASES, read_only_guard_off
from tests.seed_project import scenarios
from tests.seed_project.harness import (
    NOTHING_LEFT,
    WORLD_COUNTS,
    InProcess,
    Seed,
    all_present,
    present,
    snapshot,
    world_rows,
)

in_process = pytest.mark.django_db(databases=SEED_DATABASES)


# -- reading and writing across databases --------------------------------------------


@in_process
def test_forward_reverse_prefetch_and_assignment(sql: InProcess) -> None:
    ann = User.objects.create_user("ann", "ann@example.com")
    bob = User.objects.create_user("bob", "bob@example.com")
    post = Post(title="Assigned", author=ann)  # assignment across databases
    post.save()
    created = ann.blog_posts.create(title="Through the manager")
    post = Post.objects.get(pk=post.pk)  # fresh: nothing cached
    assert post.author.username == "ann"  # blog_db -> default
    assert sorted(p.title for p in ann.blog_posts.all()) == ["Assigned", "Through the manager"]
    assert created._state.db == post._state.db == "blog_db"
    post.author = bob  # reassignment
    post.save()
    assert [p.title for p in User.objects.get(pk=bob.pk).blog_posts.all()] == ["Assigned"]
    Customer.objects.create(user=ann)
    assert Customer.objects.get(user_id=ann.pk).user.username == "ann"
    assert User.objects.get(pk=ann.pk).customer.user_id == ann.pk

    # prefetch_related both ways: one query per database, none on the others.
    with sql.queries() as queries:
        users = [
            (u.username, sorted(p.title for p in u.blog_posts.all()), u.customer.pk is not None)
            for u in User.objects.filter(username__in=["ann"]).prefetch_related("blog_posts", "customer")
        ]
    assert users == [("ann", ["Through the manager"], True)]
    assert {alias: len(sent) for alias, sent in queries.items()} == {
        "default": 1, "blog_db": 1, "shop_db": 1, "analytics": 0,
    }
    with sql.queries() as queries:
        posts = sorted(
            (p.title, p.author.username)
            for p in Post.objects.filter(author__in=[ann, bob]).prefetch_related("author")
        )
    assert posts == [("Assigned", "bob"), ("Through the manager", "ann")]
    assert {alias: len(sent) for alias, sent in queries.items()} == {
        "default": 1, "blog_db": 1, "shop_db": 0, "analytics": 0,
    }
    # The rows are where the routes say, read directly.
    rows = sql.rows("blog_db", "SELECT title, author_id FROM blog_post WHERE author_id IN (%s, %s) ORDER BY title",
                    [ann.pk, bob.pk])
    assert rows == [("Assigned", bob.pk), ("Through the manager", ann.pk)]
    assert "blog_post" not in sql.tables("default")
    assert "auth_user" not in sql.tables("blog_db")
    assert sql.count("shop_db", "shop_customer", "user_id = %s", [ann.pk]) == 1


# -- on_delete across databases --------------------------------------------------------


@in_process
def test_a_user_delete_cascades_into_every_database_and_counts_it(sql: InProcess) -> None:
    doomed = make_world("cascade-doomed")
    kept = make_world("cascade-kept")
    user = User.objects.get(pk=doomed["user"])
    assert user.delete() == (9, WORLD_COUNTS)
    assert user.pk is None
    # CASCADE: the user's posts, their comments (blog_db, recursively), its customer
    # and the customer's wishlist, and the promotion of its post (shop_db, two hops away).
    assert world_rows(sql, doomed) == NOTHING_LEFT
    assert world_rows(sql, kept) == all_present(kept)


@in_process
def test_queryset_delete_cascades_and_sums_counts(sql: InProcess) -> None:
    worlds = [make_world("qs-doomed-1"), make_world("qs-doomed-2")]
    kept = make_world("qs-kept")
    deleted = User.objects.filter(username__startswith="qs-doomed-").delete()
    assert deleted == (18, {label: 2 * count for label, count in WORLD_COUNTS.items()})
    for world in worlds:
        assert world_rows(sql, world) == NOTHING_LEFT
    assert world_rows(sql, kept) == all_present(kept)


@in_process
def test_set_null_and_set_default_update_rows_in_another_database(sql: InProcess) -> None:
    author = User.objects.create_user("setnull-author")
    editor = User.objects.create_user("setnull-editor")
    post = Post.objects.create(title="Edited", author=author, editor=editor)
    by_editor = Comment.objects.create(post=post, author=editor, body="edit note")
    by_author = Comment.objects.create(post=post, author=author, body="thanks")
    # Nothing else is deleted; the updates are not counted (as in Django).
    assert editor.delete() == (1, {"auth.User": 1})
    assert sql.rows("blog_db", "SELECT author_id, editor_id FROM blog_post WHERE id = %s", [post.pk]) == [
        (author.pk, None)  # SET_NULL
    ]
    comments = sql.rows("blog_db", "SELECT id, author_id FROM blog_comment WHERE post_id = %s ORDER BY id",
                        [post.pk])
    assert comments == [(by_editor.pk, 0), (by_author.pk, author.pk)]  # SET_DEFAULT (0)
    assert present(sql, "default", "auth_user", [editor.pk, author.pk]) == [author.pk]


@in_process
@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_protect_refuses_before_anything_is_deleted_in_any_database(sql: InProcess, how: str) -> None:
    world = make_world(f"protect-{how}", order=True)
    before = snapshot(sql)
    with sql.sent() as sent, pytest.raises(ProtectedError) as raised:
        if how == "instance":
            User.objects.get(pk=world["user"]).delete()
        else:
            User.objects.filter(username=f"protect-{how}").delete()
    assert raised.value.args[0] == (
        "Cannot delete some instances of model 'User' because they are referenced "
        "through protected foreign keys: 'Order.placed_by'."
    )
    assert sorted(o.pk for o in raised.value.protected_objects) == [world["order"]]
    # Refused while collecting: nothing but reads was sent, to any database...
    assert [statement for _, statement in sent if not statement.startswith("SELECT")] == []
    # ...and not a row changed, in any table of any database.
    assert snapshot(sql) == before
    assert world_rows(sql, world) == all_present(world)


@in_process
def test_restrict_refuses_unless_the_row_goes_through_a_cascade(sql: InProcess) -> None:
    owner = User.objects.create_user("restrict-owner")
    other = make_world("restrict-other")
    # The wishlist's customer is another user's: deleting its owner is restricted.
    wishlist = Wishlist.objects.create(customer=Customer.objects.get(pk=other["customer"]),
                                       owner=owner, name="not mine")
    before = snapshot(sql)
    with pytest.raises(RestrictedError) as raised:
        User.objects.get(pk=owner.pk).delete()
    assert raised.value.args[0] == (
        "Cannot delete some instances of model 'User' because they are referenced "
        "through restricted foreign keys: 'Wishlist.owner'."
    )
    assert sorted(o.pk for o in raised.value.restricted_objects) == [wishlist.pk]
    assert snapshot(sql) == before
    # (The cascade tests delete wishlists whose owner is also their customer's user:
    # RESTRICT allows that, in the other database too.)


@in_process
def test_do_nothing_sends_nothing_to_the_read_only_database(sql: InProcess) -> None:
    world = make_world("donothing")
    with read_only_guard_off():  # what the other system wrote
        sql.execute("analytics", "INSERT INTO analytics_pageview (path, user_id) VALUES ('/a', %s)",
                    [world["user"]])
    with sql.queries() as queries:
        deleted = User.objects.get(pk=world["user"]).delete()
    assert deleted == (9, WORLD_COUNTS)
    assert queries["analytics"] == []
    assert list(PageView.objects.filter(user_id=world["user"]).values_list("path", flat=True)) == ["/a"]
    assert sql.rows("analytics", "SELECT path, user_id FROM analytics_pageview WHERE user_id = %s",
                    [world["user"]]) == [("/a", world["user"])]


@pytest.mark.django_db(databases=SEED_DATABASES, transaction=True)
def test_an_error_midway_rolls_every_database_back(sql: InProcess) -> None:
    # transaction=True: the delete's own transactions are the outermost ones, and commit.
    world = make_world("midway")
    before = snapshot(sql)

    def refuse(sender: Any, instance: Any, **kwargs: Any) -> None:
        raise RuntimeError("refused by a pre_delete receiver")

    # The user's database is deleted from last: by then the posts and the
    # shop rows have been deleted in their (still open) transactions.
    pre_delete.connect(refuse, sender=User)
    try:
        with sql.queries(["blog_db"]) as queries, pytest.raises(RuntimeError, match="refused by a pre_delete"):
            User.objects.get(pk=world["user"]).delete()
    finally:
        pre_delete.disconnect(refuse, sender=User)
    # The blog rows really were deleted, then rolled back.
    assert [query for query in queries["blog_db"] if query.startswith("DELETE")]
    assert snapshot(sql) == before
    assert world_rows(sql, world) == all_present(world)


@pytest.mark.django_db(databases=SEED_DATABASES, transaction=True)
@pytest.mark.parametrize("again", ["same instance", "fetched again"])
def test_a_failure_at_commit_then_the_same_delete_again_finishes_the_job(sql: InProcess, again: str) -> None:
    # A table on default whose foreign key to auth_user is checked at COMMIT (DEFERRABLE
    # INITIALLY DEFERRED): the user's own database, committed last, fails at commit.
    from django.db import IntegrityError

    sql.execute("default", "CREATE TABLE commit_guard (user_id integer NOT NULL "
                           "REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED)")
    try:
        world = make_world(f"commit-fails-{again.replace(' ', '-')}")
        sql.execute("default", "INSERT INTO commit_guard (user_id) VALUES (%s)", [world["user"]])
        user = User.objects.get(pk=world["user"])
        with pytest.raises(IntegrityError):
            user.delete()
        # The other databases committed first: the related rows are gone, the user is still there...
        left = world_rows(sql, world)
        assert left["user"] == [world["user"]]
        assert left == {**NOTHING_LEFT, "user": [world["user"]]}
        # ...and so is the user's primary key, as plain Django leaves it when a commit fails.
        assert user.pk == world["user"]

        sql.execute("default", "DELETE FROM commit_guard")
        target = user if again == "same instance" else User.objects.get(pk=world["user"])
        assert target.delete() == (1, {"auth.User": 1})
        assert target.pk is None
        assert world_rows(sql, world) == NOTHING_LEFT
    finally:
        sql.execute("default", "DROP TABLE commit_guard")


@in_process
def test_a_cascade_into_a_read_only_alias_is_refused_before_any_delete(sql: InProcess) -> None:
    world = make_world("cascade-into-read-only")
    before = snapshot(sql)
    with override_settings(READ_ONLY_DATABASES=frozenset({"analytics", "shop_db"})):
        with sql.sent() as sent, pytest.raises(ReadOnlyDatabaseError) as raised:
            User.objects.get(pk=world["user"]).delete()
    assert (raised.value.alias, raised.value.operation) == ("shop_db", "delete")
    assert [statement for _, statement in sent if not statement.startswith("SELECT")] == []
    # The user's posts (blog_db) and the user (default) are all still there.
    assert snapshot(sql) == before
    assert world_rows(sql, world) == all_present(world)


# -- end to end, on PostgreSQL ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("seed", ["postgresql"], indirect=True)
def test_a_delete_in_manage_py_shell_cascades_through_three_postgresql_databases(seed: Seed) -> None:
    """Real foreign-key constraints within each database, one server connection per alias."""
    scenarios.test_instance_delete_cascades_into_every_database_and_counts_it(seed)
