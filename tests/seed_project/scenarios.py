"""The seed project's relation, join-guard and generic-relation scenarios, end to end.

Each scenario drives a migrated seed project (any :class:`~tests.seed_project.harness.Seed`:
SQLite files, PostgreSQL, or tests/test_mariadb.py's project spread over three
engines) through ``manage.py shell -c`` and reads every database directly. The
same behaviours are tested in process on SQLite by tests/test_relations.py,
tests/test_join_guard.py and tests/test_generic_relations.py; these are the
subprocess versions, for projects whose engines the in-process layer cannot
have. A module pytest does not collect: a test module runs a scenario by
importing it (its ``seed`` fixture provides the project).
"""

from __future__ import annotations

from textwrap import dedent
from typing import Any

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

#: The apps the generic-relation scenarios need, and where the books live.
GENERIC_APPS = {"EXTRA_APPS": "tagging,library", "DB_ROUTE_LIBRARY": "shop_db"}

SELECT_RELATED_MESSAGE = (
    "Cross-database join through blog.Post.author: blog.Post lives on 'blog_db' and auth.User "
    "on 'default', so this query on 'blog_db' would need a SQL join with table 'auth_user' from "
    "'default', which one database cannot do (select_related(), a filter, values() or order_by() "
    "through 'author'). The query was not sent. Use prefetch_related('author') to load the related "
    "objects with a second query on 'default', or look the ids up first: ids = list(User.objects"
    ".filter(...).values_list('pk', flat=True)), then Post.objects.filter(author_id__in=ids)."
)

#: Runs each expression under CaptureQueriesContext on every alias and reports
#: what it raised (or returned) and how many queries reached each database.
PROBE = """
from django.contrib.auth.models import User
from django.db import connections
from django.test.utils import CaptureQueriesContext
from djcfg_env.relations import CrossDatabaseJoinError
from blog.models import Comment, Post
from shop.models import Customer
from django.test import override_settings

# select_related() across databases is prefetched while CROSS_DATABASE_SELECT_RELATED is on
# (tests/test_select_related.py): these probes show what the join guard says without it.
override_settings(DJCFG_ENV={"CROSS_DATABASE_SELECT_RELATED": False}).enable()

def probe(expression):
    contexts = [CaptureQueriesContext(connections[a]) for a in ("default", "blog_db", "shop_db", "analytics")]
    for context in contexts:
        context.__enter__()
    outcome = {"expression": expression}
    try:
        outcome["value"] = eval(expression)
    except CrossDatabaseJoinError as error:
        outcome.update(error=str(error), relation=error.relation, alias=error.alias,
                       table_alias=error.table_alias)
    finally:
        for context in contexts:
            context.__exit__(None, None, None)
    outcome["queries"] = sum(len(c.captured_queries) for c in contexts)
    return outcome
"""


# -- on_delete across databases (tests/test_relations.py) ---------------------------------


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


# -- the join guard (tests/test_join_guard.py) ---------------------------------------------


#: expression -> (relation named, alias the query runs on, alias of the table), for both layers.
JOIN_EXPRESSIONS = {
    "list(Post.objects.select_related('author'))": ("blog.Post.author", "blog_db", "default"),
    "list(Post.objects.filter(author__username='x'))": ("blog.Post.author", "blog_db", "default"),
    "list(Post.objects.values('author__username'))": ("blog.Post.author", "blog_db", "default"),
    "list(Post.objects.order_by('author__username'))": ("blog.Post.author", "blog_db", "default"),
    "Post.objects.filter(author__is_staff=True).count()": ("blog.Post.author", "blog_db", "default"),
    "Post.objects.filter(author__username='x').update(title='y')": ("blog.Post.author", "blog_db", "default"),
    "Post.objects.filter(author__username='x').delete()": ("blog.Post.author", "blog_db", "default"),
    "list(Post.objects.exclude(author__username='x'))": ("blog.Post.author", "blog_db", "default"),
    "list(Comment.objects.select_related('post__author'))": ("blog.Post.author", "blog_db", "default"),
    "list(User.objects.filter(blog_posts__title='x'))": ("auth.User.blog_posts", "default", "blog_db"),
    "list(Customer.objects.select_related('user'))": ("shop.Customer.user", "shop_db", "default"),
    "list(User.objects.values('customer__loyalty_points'))": ("auth.User.customer", "default", "shop_db"),
    # A subquery runs in the outer query's database: no relation to name.
    "list(Post.objects.filter(author__in=User.objects.filter(username='x')))": (None, "blog_db", "default"),
    # using() on a database the table is not in.
    "list(User.objects.using('blog_db').all())": (None, "blog_db", "default"),
}


#: Queries within one database, and id lookups across two: the guard lets each through. Both layers
#: run them after making the user "guard-ann" (``ann``), a post "guarded" by her and a comment "hi".
ONE_DATABASE_EXPRESSIONS = [
    "[c.post.title for c in Comment.objects.filter(post__author=ann).select_related('post')]",
    "list(Comment.objects.filter(post__title='guarded').values_list('body', flat=True))",
    "list(Post.objects.filter(author=ann).values_list('title', flat=True))",
    "list(Post.objects.filter(author_id=ann.pk).values_list('title', flat=True))",
    "list(Post.objects.filter(author__id=ann.pk).values_list('title', flat=True))",
    "list(Post.objects.filter(author__in=[ann]).values_list('title', flat=True))",
    "list(Post.objects.filter(author=ann).values_list('author', flat=True))",
    "[p.author.username for p in Post.objects.filter(author=ann).prefetch_related('author')]",
    # The error's suggestion, spelled out: ids first, then the other database.
    "list(Post.objects.filter(author_id__in=list(User.objects.filter(username='guard-ann')"
    ".values_list('pk', flat=True))).values_list('title', flat=True))",
]


def one_database_values(ann: int) -> list[list[Any]]:
    """What each of :data:`ONE_DATABASE_EXPRESSIONS` returns (``ann``: the user's pk)."""
    return [["guarded"], ["hi"], ["guarded"], ["guarded"], ["guarded"], ["guarded"], [ann], ["guard-ann"], ["guarded"]]


def assert_join_outcomes(outcomes: list[dict[str, Any]]) -> None:
    """What every expression of :data:`JOIN_EXPRESSIONS` must have done: raised, sending nothing."""
    for outcome in outcomes:
        relation, alias, table_alias = JOIN_EXPRESSIONS[outcome["expression"]]
        assert "error" in outcome, outcome
        assert outcome["queries"] == 0, outcome  # raised before anything was sent
        assert (outcome["relation"], outcome["alias"], outcome["table_alias"]) == (relation, alias, table_alias)
        message = outcome["error"]
        assert f"'{alias}'" in message and f"'{table_alias}'" in message
        assert "The query was not sent." in message
        if relation is not None:
            assert message.startswith(f"Cross-database join through {relation}")
            assert "prefetch_related(" in message and "values_list(" in message
        else:
            assert message.startswith("Cross-database query: table 'auth_user' of auth.User lives on 'default'")
            assert "values_list('pk', flat=True)" in message
    by_expression = {outcome["expression"]: outcome for outcome in outcomes}
    assert by_expression["list(Post.objects.select_related('author'))"]["error"] == SELECT_RELATED_MESSAGE
    two_hops = by_expression["list(Comment.objects.select_related('post__author'))"]["error"]
    assert "prefetch_related('post__author')" in two_hops
    reverse = by_expression["list(User.objects.filter(blog_posts__title='x'))"]["error"]
    assert reverse.startswith(
        "Cross-database join through auth.User.blog_posts (the reverse of blog.Post.author): "
        "auth.User lives on 'default' and blog.Post on 'blog_db'"
    )
    assert "ids = list(Post.objects.filter(title=...).values_list('author_id', flat=True)), then " \
           "User.objects.filter(pk__in=ids)" in reverse


def test_cross_database_joins_raise_before_any_query_is_sent(seed: Seed) -> None:
    assert_join_outcomes(seed.shell(PROBE + f"result([probe(e) for e in {list(JOIN_EXPRESSIONS)!r}])"))


def test_queries_within_one_database_and_id_lookups_are_untouched(seed: Seed) -> None:
    out = seed.shell(
        PROBE
        + dedent("""
        ann = User.objects.create_user("guard-ann")
        post = Post.objects.create(title="guarded", author=ann)
        Comment.objects.create(post=post, author=ann, body="hi")
        """)
        + f"result({{'ann': ann.pk, 'outcomes': [probe(e) for e in {ONE_DATABASE_EXPRESSIONS!r}]}})\n"
    )
    values = [outcome.get("value", outcome.get("error")) for outcome in out["outcomes"]]
    assert values == one_database_values(out["ann"])


# -- generic relations (tests/test_generic_relations.py) -----------------------------------


def tags_of(seed: Seed | InProcess, book: int) -> list[str]:
    """The tags of ``book``, read from ``default`` directly (end to end or in process)."""
    rows = seed.rows(
        "default",
        "SELECT t.tag FROM tagging_taggeditem t JOIN django_content_type c ON c.id = t.content_type_id"
        " WHERE c.app_label = 'library' AND c.model = 'book' AND t.object_id = %s ORDER BY t.tag",
        [book],
    )
    return [str(row[0]) for row in rows]


def test_the_tables_are_where_the_routes_say(seed: Seed) -> None:
    assert "library_book" in seed.tables("shop_db")
    assert "library_book" not in seed.tables("default")
    assert "tagging_taggeditem" in seed.tables("default")
    assert "tagging_taggeditem" not in seed.tables("shop_db")


def test_reading_and_writing_through_a_generic_relation_across_databases(seed: Seed) -> None:
    out: dict[str, Any] = seed.shell(
        """
        from django.contrib.auth.models import User
        from library.models import Book
        from tagging.models import TaggedItem

        owner = User.objects.create_user("generic-reader")
        book = Book.objects.create(title="Dune", owner=owner)
        other = Book.objects.create(title="Emma", owner=owner)
        created = book.tags.create(tag="sci-fi")                           # reverse manager, write
        assigned = TaggedItem.objects.create(content_object=book, tag="classic")  # assignment
        other.tags.create(tag="novel")
        tag = TaggedItem.objects.get(pk=created.pk)                         # fresh: nothing cached
        forward = tag.content_object                                        # default -> shop_db
        result({
            "book": book.pk, "other": other.pk,
            "tag_db": created._state.db, "assigned_db": assigned._state.db,
            "reverse": sorted(t.tag for t in Book.objects.get(pk=book.pk).tags.all()),
            "forward": [forward.title, forward._state.db],
            "prefetch_forward": sorted(
                (t.tag, t.content_object.title)
                for t in TaggedItem.objects.filter(object_id__in=[book.pk, other.pk])
                .prefetch_related("content_object")
            ),
            "prefetch_reverse": sorted(
                (b.title, sorted(t.tag for t in b.tags.all()))
                for b in Book.objects.filter(owner=owner).prefetch_related("tags")
            ),
        })
        """
    )
    assert out["tag_db"] == out["assigned_db"] == "default"
    assert out["reverse"] == ["classic", "sci-fi"]
    assert out["forward"] == ["Dune", "shop_db"]
    assert out["prefetch_forward"] == [["classic", "Dune"], ["novel", "Emma"], ["sci-fi", "Dune"]]
    assert out["prefetch_reverse"] == [["Dune", ["classic", "sci-fi"]], ["Emma", ["novel"]]]
    assert tags_of(seed, out["book"]) == ["classic", "sci-fi"]
    assert tags_of(seed, out["other"]) == ["novel"]


def test_deleting_the_object_deletes_its_tags_in_the_other_database(seed: Seed) -> None:
    out: dict[str, Any] = seed.shell(
        """
        from django.contrib.auth.models import User
        from library.models import Book

        owner = User.objects.create_user("generic-owner")
        doomed = Book.objects.create(title="Doomed", owner=owner)
        kept = Book.objects.create(title="Kept", owner=owner)
        for name in ("a", "b"):
            doomed.tags.create(tag=name)
        kept.tags.create(tag="stays")
        by_instance = Book.objects.get(pk=doomed.pk).delete()
        # A user's delete cascades to its books (shop_db), then to their tags (default).
        cascaded = Book.objects.create(title="Cascaded", owner=owner)
        cascaded.tags.create(tag="goes")
        by_user = User.objects.filter(pk=owner.pk).delete()
        result({"doomed": doomed.pk, "kept": kept.pk, "cascaded": cascaded.pk,
                "by_instance": by_instance, "by_user": by_user})
        """
    )
    assert out["by_instance"] == [3, {"library.Book": 1, "tagging.TaggedItem": 2}]
    # The user's two remaining books (Kept, Cascaded) and their tags ("stays", "goes").
    assert out["by_user"] == [
        5, {"auth.User": 1, "library.Book": 2, "tagging.TaggedItem": 2}
    ]
    for book in ("doomed", "kept", "cascaded"):
        assert tags_of(seed, out[book]) == []
        assert seed.count("shop_db", "library_book", "id = %s", [out[book]]) == 0
