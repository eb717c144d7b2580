"""Cross-database relations in the seed project, on real PostgreSQL databases and SQLite files.

auth/contenttypes on ``default``, blog on ``blog_db``, shop on ``shop_db``,
analytics on a read-only alias. Every scenario runs in ``manage.py shell -c``
(the project as a user runs it); rows are then checked in each database
directly. Each test makes its own users, so tests share one migrated set of
databases per backend.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.seed_project.harness import Seed, make_seed

#: Every table of the seed's apps, by the alias it lives on.
TABLES = {
    "default": ["auth_user"],
    "blog_db": ["blog_post", "blog_comment"],
    "shop_db": ["shop_customer", "shop_order", "shop_wishlist", "shop_promotion"],
    "analytics": ["analytics_pageview"],
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    yield from make_seed(request.param, tmp_path_factory.mktemp("relations"))


def snapshot(seed: Seed) -> dict[str, dict[str, list[tuple[object, ...]]]]:
    """Every row of every seed table, per database, as read directly."""
    return {
        alias: {table: sorted(seed.rows(alias, f"SELECT * FROM {table}")) for table in tables}
        for alias, tables in TABLES.items()
    }


def present(seed: Seed, alias: str, table: str, ids: list[int]) -> list[int]:
    """Which of ``ids`` are still rows of ``table`` in ``alias``'s database."""
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    rows = seed.rows(alias, f"SELECT id FROM {table} WHERE id IN ({marks})", ids)
    return sorted(int(row[0]) for row in rows)


def world_rows(seed: Seed, ids: dict[str, object]) -> dict[str, list[int]]:
    """Which of a world's rows still exist, read from each database directly."""
    return {
        "user": present(seed, "default", "auth_user", [ids["user"]]),  # type: ignore[list-item]
        "posts": present(seed, "blog_db", "blog_post", ids["posts"]),  # type: ignore[arg-type]
        "comments": present(seed, "blog_db", "blog_comment", ids["comments"]),  # type: ignore[arg-type]
        "customer": present(seed, "shop_db", "shop_customer", [ids["customer"]]),  # type: ignore[list-item]
        "wishlist": present(seed, "shop_db", "shop_wishlist", [ids["wishlist"]]),  # type: ignore[list-item]
        "promotion": present(seed, "shop_db", "shop_promotion", [ids["promotion"]]),  # type: ignore[list-item]
    }


def all_present(ids: dict[str, object]) -> dict[str, list[int]]:
    def listed(value: object) -> list[int]:
        return sorted(value) if isinstance(value, list) else [value]  # type: ignore[list-item]

    keys = ("user", "posts", "comments", "customer", "wishlist", "promotion")
    return {key: listed(ids[key]) for key in keys}


NOTHING_LEFT = {key: [] for key in ("user", "posts", "comments", "customer", "wishlist", "promotion")}
#: What deleting one world's user deletes, per model label (the counts .delete() returns).
WORLD_COUNTS = {
    "auth.User": 1,
    "blog.Post": 2,
    "blog.Comment": 3,
    "shop.Customer": 1,
    "shop.Wishlist": 1,
    "shop.Promotion": 1,
}


# -- reading and writing across databases --------------------------------------------


def test_forward_reverse_prefetch_and_assignment(seed: Seed) -> None:
    out = seed.shell(
        """
        from django.contrib.auth.models import User
        from django.db import connections
        from django.test.utils import CaptureQueriesContext
        from blog.models import Post
        from shop.models import Customer

        ann = User.objects.create_user("ann", "ann@example.com")
        bob = User.objects.create_user("bob", "bob@example.com")
        post = Post(title="Assigned", author=ann)          # assignment across databases
        post.save()
        created = ann.blog_posts.create(title="Through the manager")
        post = Post.objects.get(pk=post.pk)                # fresh: nothing cached
        forward = post.author.username                     # blog_db -> default
        reverse = sorted(p.title for p in ann.blog_posts.all())  # default -> blog_db
        post.author = bob                                  # reassignment
        post.save()
        moved = [p.title for p in User.objects.get(pk=bob.pk).blog_posts.all()]
        Customer.objects.create(user=ann)
        one_forward = Customer.objects.get(user_id=ann.pk).user.username
        one_reverse = User.objects.get(pk=ann.pk).customer.user_id

        def per_alias(run):
            contexts = {alias: CaptureQueriesContext(connections[alias])
                        for alias in ("default", "blog_db", "shop_db", "analytics")}
            for context in contexts.values():
                context.__enter__()
            value = run()
            for context in contexts.values():
                context.__exit__(None, None, None)
            return value, {alias: len(c.captured_queries) for alias, c in contexts.items()}

        users, users_queries = per_alias(lambda: [
            (u.username, sorted(p.title for p in u.blog_posts.all()), u.customer.pk is not None)
            for u in User.objects.filter(username__in=["ann"]).prefetch_related("blog_posts", "customer")
        ])
        posts, posts_queries = per_alias(lambda: sorted(
            (p.title, p.author.username)
            for p in Post.objects.filter(author__in=[ann, bob]).prefetch_related("author")
        ))
        result({
            "forward": forward, "reverse": reverse, "created_db": created._state.db,
            "post_db": post._state.db, "moved": moved, "one_forward": one_forward,
            "one_reverse": one_reverse, "ann": ann.pk, "bob": bob.pk,
            "users": users, "users_queries": users_queries,
            "posts": posts, "posts_queries": posts_queries,
        })
        """
    )
    assert out["forward"] == "ann"
    assert out["reverse"] == ["Assigned", "Through the manager"]
    assert out["created_db"] == out["post_db"] == "blog_db"
    assert out["moved"] == ["Assigned"]
    assert out["one_forward"] == "ann"
    assert out["one_reverse"] == out["ann"]
    # prefetch_related both ways: one query per database, none on the others.
    assert out["users"] == [["ann", ["Through the manager"], True]]
    assert out["users_queries"] == {"default": 1, "blog_db": 1, "shop_db": 1, "analytics": 0}
    assert out["posts"] == [["Assigned", "bob"], ["Through the manager", "ann"]]
    assert out["posts_queries"] == {"default": 1, "blog_db": 1, "shop_db": 0, "analytics": 0}
    # The rows are where the routes say, read directly.
    rows = seed.rows("blog_db", "SELECT title, author_id FROM blog_post WHERE author_id IN (%s, %s) ORDER BY title",
                     [out["ann"], out["bob"]])
    assert rows == [("Assigned", out["bob"]), ("Through the manager", out["ann"])]
    assert "blog_post" not in seed.tables("default")
    assert "auth_user" not in seed.tables("blog_db")
    assert seed.count("shop_db", "shop_customer", "user_id = %s", [out["ann"]]) == 1


# -- on_delete across databases --------------------------------------------------------


def test_instance_delete_cascades_into_every_database_and_counts_it(seed: Seed) -> None:
    out = seed.shell(
        """
        from django.contrib.auth.models import User
        from seedsite.world import make_world
        doomed = make_world("cascade-doomed")
        kept = make_world("cascade-kept")
        user = User.objects.get(pk=doomed["user"])
        result({"doomed": doomed, "kept": kept, "deleted": user.delete(), "pk_after": user.pk})
        """
    )
    assert out["deleted"] == [9, WORLD_COUNTS]
    assert out["pk_after"] is None
    # CASCADE: the user's posts, their comments (blog_db, recursively), its customer
    # and the customer's wishlist, and the promotion of its post (shop_db, two hops away).
    assert world_rows(seed, out["doomed"]) == NOTHING_LEFT
    assert world_rows(seed, out["kept"]) == all_present(out["kept"])


def test_queryset_delete_cascades_and_sums_counts(seed: Seed) -> None:
    out = seed.shell(
        """
        from django.contrib.auth.models import User
        from seedsite.world import make_world
        worlds = [make_world("qs-doomed-1"), make_world("qs-doomed-2")]
        kept = make_world("qs-kept")
        deleted = User.objects.filter(username__startswith="qs-doomed-").delete()
        result({"worlds": worlds, "kept": kept, "deleted": deleted})
        """
    )
    assert out["deleted"] == [18, {label: 2 * count for label, count in WORLD_COUNTS.items()}]
    for world in out["worlds"]:
        assert world_rows(seed, world) == NOTHING_LEFT
    assert world_rows(seed, out["kept"]) == all_present(out["kept"])


def test_set_null_and_set_default_update_rows_in_the_other_database(seed: Seed) -> None:
    out = seed.shell(
        """
        from django.contrib.auth.models import User
        from blog.models import Comment, Post
        author = User.objects.create_user("setnull-author")
        editor = User.objects.create_user("setnull-editor")
        post = Post.objects.create(title="Edited", author=author, editor=editor)
        by_editor = Comment.objects.create(post=post, author=editor, body="edit note")
        by_author = Comment.objects.create(post=post, author=author, body="thanks")
        result({"post": post.pk, "by_editor": by_editor.pk, "by_author": by_author.pk,
                "author": author.pk, "editor": editor.pk, "deleted": editor.delete()})
        """
    )
    # Nothing else is deleted; the updates are not counted (as in Django).
    assert out["deleted"] == [1, {"auth.User": 1}]
    assert seed.rows("blog_db", "SELECT author_id, editor_id FROM blog_post WHERE id = %s", [out["post"]]) == [
        (out["author"], None)  # SET_NULL
    ]
    comments = seed.rows("blog_db", "SELECT id, author_id FROM blog_comment WHERE post_id = %s ORDER BY id",
                         [out["post"]])
    assert comments == [(out["by_editor"], 0), (out["by_author"], out["author"])]  # SET_DEFAULT (0)
    assert present(seed, "default", "auth_user", [out["editor"], out["author"]]) == [out["author"]]


@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_protect_refuses_before_anything_is_deleted_anywhere(seed: Seed, how: str) -> None:
    setup = seed.shell(
        f"""
        from seedsite.world import make_world
        result(make_world("protect-{how}", order=True))
        """
    )
    before = snapshot(seed)
    delete = (
        f"User.objects.get(pk={setup['user']}).delete()"
        if how == "instance"
        else f"User.objects.filter(username='protect-{how}').delete()"
    )
    out = seed.shell(
        f"""
        from django.contrib.auth.models import User
        from django.db.models import ProtectedError
        try:
            {delete}
        except ProtectedError as error:
            result({{"error": error.args[0], "protected": sorted(o.pk for o in error.protected_objects)}})
        else:
            result({{"error": None}})
        """
    )
    assert out == {
        "error": "Cannot delete some instances of model 'User' because they are referenced "
        "through protected foreign keys: 'Order.placed_by'.",
        "protected": [setup["order"]],
    }
    # Both (all) databases untouched: not a row changed, in any table.
    assert snapshot(seed) == before
    assert world_rows(seed, setup) == all_present(setup)


def test_restrict_refuses_unless_the_row_goes_through_a_cascade(seed: Seed) -> None:
    setup = seed.shell(
        """
        from django.contrib.auth.models import User
        from seedsite.world import make_world
        from shop.models import Customer, Wishlist
        owner = User.objects.create_user("restrict-owner")
        other = make_world("restrict-other")
        # The wishlist's customer is another user's: deleting its owner is restricted.
        wishlist = Wishlist.objects.create(customer=Customer.objects.get(pk=other["customer"]),
                                           owner=owner, name="not mine")
        result({"owner": owner.pk, "wishlist": wishlist.pk})
        """
    )
    before = snapshot(seed)
    out = seed.shell(
        f"""
        from django.contrib.auth.models import User
        from django.db.models import RestrictedError
        try:
            User.objects.get(pk={setup['owner']}).delete()
        except RestrictedError as error:
            result({{"error": error.args[0], "restricted": sorted(o.pk for o in error.restricted_objects)}})
        else:
            result({{"error": None}})
        """
    )
    assert out == {
        "error": "Cannot delete some instances of model 'User' because they are referenced "
        "through restricted foreign keys: 'Wishlist.owner'.",
        "restricted": [setup["wishlist"]],
    }
    assert snapshot(seed) == before
    # (The cascade tests delete wishlists whose owner is also their customer's user:
    # RESTRICT allows that, in the other database too.)


def test_do_nothing_leaves_the_read_only_database_alone(seed: Seed) -> None:
    setup = seed.shell(
        """
        from seedsite.world import make_world
        result(make_world("donothing"))
        """
    )
    seed.execute("analytics", f"INSERT INTO analytics_pageview (path, user_id) VALUES ('/a', {setup['user']})")
    out = seed.shell(
        f"""
        from django.contrib.auth.models import User
        from django.db import connections
        from django.test.utils import CaptureQueriesContext
        from analytics.models import PageView
        with CaptureQueriesContext(connections["analytics"]) as queries:
            deleted = User.objects.get(pk={setup['user']}).delete()
        views = list(PageView.objects.filter(user_id={setup['user']}).values_list("path", flat=True))
        result({{"deleted": deleted, "analytics_queries": len(queries.captured_queries), "views": views}})
        """
    )
    assert out["deleted"] == [9, WORLD_COUNTS]
    assert out["analytics_queries"] == 0
    assert out["views"] == ["/a"]
    assert seed.rows("analytics", "SELECT path, user_id FROM analytics_pageview WHERE user_id = %s",
                     [setup["user"]]) == [("/a", setup["user"])]


def test_an_error_midway_rolls_back_every_database(seed: Seed) -> None:
    setup = seed.shell(
        """
        from seedsite.world import make_world
        result(make_world("midway"))
        """
    )
    before = snapshot(seed)
    out = seed.shell(
        f"""
        from django.contrib.auth.models import User
        from django.db import connections
        from django.db.models.signals import pre_delete
        from django.test.utils import CaptureQueriesContext

        def refuse(sender, instance, **kwargs):
            raise RuntimeError("refused by a pre_delete receiver")

        # The user's database is deleted from last: by then the posts and the
        # shop rows have been deleted in their (still open) transactions.
        pre_delete.connect(refuse, sender=User)
        with CaptureQueriesContext(connections["blog_db"]) as blog:
            try:
                User.objects.get(pk={setup['user']}).delete()
            except RuntimeError as error:
                message = str(error)
        deletes = [q["sql"] for q in blog.captured_queries if q["sql"].startswith("DELETE")]
        result({{"error": message, "blog_deletes": len(deletes)}})
        """
    )
    assert out["error"] == "refused by a pre_delete receiver"
    assert out["blog_deletes"] >= 1  # the blog rows really were deleted, then rolled back
    assert snapshot(seed) == before


def test_cascade_into_a_read_only_alias_is_refused_before_anything_is_deleted(seed: Seed) -> None:
    setup = seed.shell(
        """
        from seedsite.world import make_world
        result(make_world("cascade-into-read-only"))
        """
    )
    before = snapshot(seed)
    shop_url = seed.env["DATABASE_URL_SHOP_DB"]
    read_only_shop = f"{shop_url}{'&' if '?' in shop_url else '?'}read_only=true"
    done = seed.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.contrib.auth.models import User\n"
        "from djcfg_env.readonly import ReadOnlyDatabaseError\n"
        "try:\n"
        f"    User.objects.get(pk={setup['user']}).delete()\n"
        "except ReadOnlyDatabaseError as error:\n"
        "    print('REFUSED', error.alias, error.operation)\n",
        env={"DATABASE_URL_SHOP_DB": read_only_shop},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["REFUSED", "shop_db", "delete"]
    # The user's posts (blog_db) and the user (default) are all still there.
    assert snapshot(seed) == before
    assert world_rows(seed, setup) == all_present(setup)
