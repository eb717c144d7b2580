"""select_related() across databases, in the seed project on real PostgreSQL databases and SQLite files.

With ``DJCFG_ENV["CROSS_DATABASE_SELECT_RELATED"]`` on (the default), a
``select_related()`` hop into another database is loaded by one more query on
that database (a prefetch): the same objects, the related object in place,
one query per crossing relation whatever the number of rows. Hops within one
database keep their join. Off, the join guard refuses the query as before.
Filters, ``values()``, ``order_by()`` and aggregates through a cross-database
relation still raise ``CrossDatabaseJoinError``, naming the hop that crosses,
and the two-step query the message suggests runs.

The seed gets three more apps (``EXTRA_APPS``): ``tagging`` and ``library``
(a generic relation from ``shop_db`` to ``default``) and ``clubs`` (on
``shop_db``: a many-to-many to users through a model of its own, a non-null
foreign key to users, and a nullable one to blog comments). ``clubs.Club.members``
is reported by ``djcfg_env.E002`` on purpose, so the seed is migrated with
``--skip-checks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests import pg
from tests.seed_project.harness import WRITABLE, Seed, postgres_seed, sqlite_seed

APPS = {"EXTRA_APPS": "tagging,library,clubs", "DB_ROUTE_LIBRARY": "shop_db", "DB_ROUTE_CLUBS": "shop_db"}


def _migrated(seed: Seed) -> Seed:
    seed.env.update(APPS)
    code = "from django.core.management import call_command\n" + "".join(
        f"call_command('migrate', database={alias!r}, interactive=False, verbosity=0, skip_checks=True)\n"
        for alias in WRITABLE
    )
    done = seed.manage("shell", "-v", "0", "-c", code)
    assert done.returncode == 0, done.stdout + done.stderr
    return seed


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    if request.param == "postgresql":
        pg.require_postgres()
        databases = pg.PostgresDatabases()
        try:
            yield _migrated(postgres_seed(databases))
        finally:
            databases.drop_all()
    else:
        directory: Path = tmp_path_factory.mktemp("select_related")
        yield _migrated(sqlite_seed(directory))


#: Imports, and ``counted(function)``: what it returned (or raised), and how many
#: queries reached each database meanwhile.
PRELUDE = """
import asyncio
import django
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.models import Max
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from djcfg_env.exceptions import CrossDatabaseJoinError
from djcfg_env.orm import select_related, switches
from blog.models import Comment, Post
from clubs.models import Club, Membership
from library.models import Book
from shop.models import Customer, Promotion
from tagging.models import TaggedItem

ALIASES = ("default", "blog_db", "shop_db")

def counted(function):
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in ALIASES}
    for context in contexts.values():
        context.__enter__()
    outcome = {}
    try:
        outcome["value"] = function()
    except CrossDatabaseJoinError as error:
        outcome.update(error=str(error), relation=error.relation, alias=error.alias,
                       table_alias=error.table_alias)
    finally:
        for context in contexts.values():
            context.__exit__(None, None, None)
    outcome["queries"] = {alias: len(c.captured_queries) for alias, c in contexts.items()}
    outcome["sql"] = {alias: [q["sql"] for q in c.captured_queries] for alias, c in contexts.items()}
    return outcome
"""


def joins(outcome: dict[str, Any], alias: str, table: str) -> bool:
    """Whether the one query sent to ``alias`` joins ``table`` (a hop kept as a join)."""
    (sql,) = outcome["sql"][alias]
    return "JOIN" in sql and f'"{table}"' in sql


def test_select_related_across_databases_loads_the_same_objects_one_query_per_relation(seed: Seed) -> None:
    out = seed.shell(
        PRELUDE
        + dedent("""
        N = 4   # rows: never N+1, one query per alias and crossing relation
        users = [User.objects.create_user(f"sr-{i}") for i in range(N)]
        posts = [Post.objects.create(title=f"sr-post-{i}", author=u) for i, u in enumerate(users)]
        comments = [Comment.objects.create(post=p, author=users[(i + 1) % N], body=f"sr-{i}")
                    for i, p in enumerate(posts)]
        clubs = [Club.objects.create(name=f"sr-club-{i}", owner=u, featured=comments[i])
                 for i, u in enumerate(users)]
        for i, club in enumerate(clubs):
            Membership.objects.create(club=club, user=users[(i + 2) % N])
        for user in users:
            Customer.objects.create(user=user, loyalty_points=3)
        ids = [u.pk for u in users]
        mine = {
            "posts": Post.objects.filter(author__in=ids).order_by("pk"),
            "comments": Comment.objects.filter(post__in=posts).order_by("pk"),
            "clubs": Club.objects.filter(owner__in=ids).order_by("pk"),
            "memberships": Membership.objects.filter(club__in=clubs).order_by("pk"),
            "users": User.objects.filter(pk__in=ids).order_by("pk"),
        }
        post_row = lambda p: [p.pk, p.title, p.author.pk, p.author.username]
        cases = {
            # name: (queryset, how a row is read)
            "explicit": (mine["posts"].select_related("author"), post_row),
            "nested, last hop crosses": (
                mine["comments"].select_related("post__author"),
                lambda c: [c.pk, c.post.title, c.post.author.username],
            ),
            "no names (the admin changelist's)": (mine["posts"].select_related(), post_row),
            "no names, nested": (
                mine["memberships"].select_related(),
                lambda m: [m.pk, m.club.name, m.club.owner.username, m.user.username],
            ),
            "no names, nullable not followed": (
                mine["clubs"].select_related(), lambda c: [c.pk, c.name, c.owner.username],
            ),
            "same-database hops beyond the crossing one": (
                mine["clubs"].select_related("featured__post__author"),
                lambda c: [c.pk, c.featured.body, c.featured.post.title, c.featured.post.author.username],
            ),
            "reverse one-to-one": (
                mine["users"].select_related("customer"), lambda u: [u.username, u.customer.loyalty_points],
            ),
            "with the caller's prefetch_related": (
                mine["posts"].select_related("author").prefetch_related("comments"),
                lambda p: [p.author.username, [c.body for c in p.comments.all()]],
            ),
            "within one database": (
                mine["comments"].select_related("post"), lambda c: [c.pk, c.post.title],
            ),
            "known related objects": (
                users[0].blog_posts.select_related("author"), lambda p: [p.title, p.author.username],
            ),
        }
        out = {}
        for name, (queryset, read) in cases.items():
            reference = [read(obj) for obj in queryset.model._base_manager.filter(
                pk__in=[o.pk for o in queryset._chain()]).order_by("pk")]
            before = repr(queryset.query.select_related)
            outcome = counted(lambda: [read(obj) for obj in queryset])
            outcome["reference"] = reference
            outcome["prepared"] = select_related.prepared(queryset._chain()) is not None
            outcome["untouched"] = repr(queryset.query.select_related) == before
            out[name] = outcome
        posts_qs = mine["posts"].select_related("author")
        out["iterator"] = counted(lambda: [post_row(p) for p in posts_qs.iterator()])
        out["iterator, chunks of 2"] = counted(lambda: [post_row(p) for p in posts_qs.iterator(chunk_size=2)])
        out["get"] = counted(lambda: post_row(Post.objects.select_related("author").get(pk=posts[0].pk)))
        out["reference posts"] = [post_row(p) for p in mine["posts"]]

        async def read_async():
            # Reading p.author in async code raises unless it is already loaded.
            first = [[p.pk, p.author.username] async for p in posts_qs]
            if django.VERSION < (5, 0):  # Django 4.2 cannot prefetch in aiterator(): the join guard refuses
                try:
                    [p async for p in posts_qs.aiterator()]
                except Exception as error:
                    return [first, type(error).__name__]
            second = [[p.pk, p.author.username] async for p in posts_qs.aiterator()]
            return [first, second]

        out["async"] = asyncio.run(read_async())
        out["async reference"] = [[p.pk, p.author.username] for p in mine["posts"]]
        result(out)
        """)
    )
    expected = {
        "explicit": {"default": 1, "blog_db": 1, "shop_db": 0},
        "nested, last hop crosses": {"default": 1, "blog_db": 1, "shop_db": 0},
        "no names (the admin changelist's)": {"default": 1, "blog_db": 1, "shop_db": 0},
        "no names, nested": {"default": 2, "blog_db": 0, "shop_db": 1},  # club__owner and user
        "no names, nullable not followed": {"default": 1, "blog_db": 0, "shop_db": 1},
        "same-database hops beyond the crossing one": {"default": 1, "blog_db": 1, "shop_db": 1},
        "reverse one-to-one": {"default": 1, "blog_db": 0, "shop_db": 1},
        "with the caller's prefetch_related": {"default": 1, "blog_db": 2, "shop_db": 0},
        "within one database": {"default": 0, "blog_db": 1, "shop_db": 0},
        "known related objects": {"default": 0, "blog_db": 1, "shop_db": 0},
    }
    for name, queries in expected.items():
        outcome = out[name]
        assert "error" not in outcome, (name, outcome)
        assert outcome["queries"] == queries, (name, outcome)
        assert outcome["value"] == outcome["reference"] and len(outcome["value"]) >= 1, (name, outcome)
        assert outcome["untouched"], name  # the caller's queryset keeps its select_related()
    # The hops within one database keep their join.
    assert joins(out["nested, last hop crosses"], "blog_db", "blog_post")
    assert joins(out["no names, nested"], "shop_db", "clubs_club")
    assert joins(out["same-database hops beyond the crossing one"], "blog_db", "blog_post")
    assert joins(out["within one database"], "blog_db", "blog_post")
    # Nothing crosses: Django's own path, untouched. (The known author is not fetched again.)
    assert not out["within one database"]["prepared"]
    assert out["explicit"]["prepared"] and out["known related objects"]["prepared"]
    for name in ("iterator", "get"):
        assert out[name]["queries"] == {"default": 1, "blog_db": 1, "shop_db": 0}, (name, out[name])
    assert out["iterator"]["value"] == out["reference posts"]
    assert out["get"]["value"] == out["reference posts"][0]
    # iterator(chunk_size=2) prefetches per chunk, as Django does: 4 rows, 2 chunks.
    assert out["iterator, chunks of 2"]["queries"] == {"default": 2, "blog_db": 1, "shop_db": 0}
    assert out["iterator, chunks of 2"]["value"] == out["reference posts"]
    if out["async"][1] == "CrossDatabaseJoinError":  # Django 4.2: aiterator() cannot prefetch
        assert out["async"][0] == out["async reference"]
    else:
        assert out["async"] == [out["async reference"], out["async reference"]]


def test_the_switch_off_restores_the_join_guard(seed: Seed) -> None:
    out = seed.shell(
        PRELUDE
        + dedent("""
        ann = User.objects.create_user("switch-ann")
        Post.objects.create(title="switch", author=ann)
        expressions = [
            "list(Post.objects.select_related('author'))",
            "list(Comment.objects.select_related('post__author'))",
            "list(Post.objects.select_related())",
        ]
        with override_settings(DJCFG_ENV={"CROSS_DATABASE_SELECT_RELATED": False}):
            off = {e: counted(lambda: eval(e)) for e in expressions}
            installed_off = sorted(switches.installed())
        on = counted(lambda: [p.author.username for p in Post.objects.filter(author=ann).select_related("author")])
        result({"off": off, "installed_off": installed_off, "installed_on": sorted(switches.installed()), "on": on})
        """)
    )
    assert "CROSS_DATABASE_SELECT_RELATED" in out["installed_on"]
    assert "CROSS_DATABASE_SELECT_RELATED" not in out["installed_off"] and "JOIN_GUARD" in out["installed_off"]
    for expression, outcome in out["off"].items():
        assert outcome["relation"] == "blog.Post.author", (expression, outcome)
        assert (outcome["alias"], outcome["table_alias"]) == ("blog_db", "default")
        assert sum(outcome["queries"].values()) == 0, outcome  # refused before anything was sent
    assert out["on"]["value"] == ["switch-ann"]


#: expression -> (relation, alias the query runs on, the other alias, "left model ... right model",
#: the value for the hint's "..." placeholders, what the suggested query returns (by name)).
REFUSED = {
    "list(Post.objects.filter(author__username__in=['h-ann']))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        ["h-ann"], ["post"],
    ),
    "list(User.objects.filter(blog_posts__title='h-post'))": (
        "auth.User.blog_posts", "default", "blog_db", "auth.User lives on 'default' and blog.Post on 'blog_db'",
        "h-post", ["ann"],
    ),
    "list(User.objects.filter(customer__loyalty_points=7))": (
        "auth.User.customer", "default", "shop_db", "auth.User lives on 'default' and shop.Customer on 'shop_db'",
        7, ["ann"],
    ),
    # A many-to-many through a model of its own: the hop that crosses is the through model's
    # foreign key, and the suggestion filters the users first.
    "list(Club.objects.filter(members__username='h-bob'))": (
        "clubs.Membership.user", "shop_db", "default",
        "clubs.Membership lives on 'shop_db' and auth.User on 'default'", "h-bob", ["club"],
    ),
    # The other way round the through model is on the far side, with the clubs.
    "list(User.objects.filter(clubs__name='h-club'))": (
        "auth.User.memberships", "default", "shop_db",
        "auth.User lives on 'default' and clubs.Membership on 'shop_db'", "h-club", ["bob"],
    ),
    "list(Club.objects.filter(memberships__user__username='h-bob'))": (
        "clubs.Membership.user", "shop_db", "default",
        "clubs.Membership lives on 'shop_db' and auth.User on 'default'", "h-bob", ["club"],
    ),
    # A generic relation: the content type is part of the suggestion.
    "list(Book.objects.filter(tags__tag='h-tag'))": (
        "library.Book.tags", "shop_db", "default",
        "library.Book lives on 'shop_db' and tagging.TaggedItem on 'default'", "h-tag", ["book"],
    ),
    # Two crossings (shop_db -> blog_db -> default): one step per database.
    "list(Promotion.objects.filter(post__author__username='h-ann'))": (
        "shop.Promotion.post", "shop_db", "blog_db",
        "shop.Promotion lives on 'shop_db' and blog.Post on 'blog_db'", "h-ann", ["promotion"],
    ),
    # Only the last hop crosses: the near side keeps its same-database path.
    "list(Comment.objects.filter(post__author__username='h-ann'))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        "h-ann", ["comment"],
    ),
    "list(Post.objects.values('author__username'))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        None, None,
    ),
    "list(Post.objects.order_by('author__username'))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        None, None,
    ),
    "Post.objects.aggregate(Max('author__username'))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        None, None,
    ),
    # select_related() is prefetched, but the filter still needs the join.
    "list(Post.objects.select_related('author').filter(author__username='h-ann'))": (
        "blog.Post.author", "blog_db", "default", "blog.Post lives on 'blog_db' and auth.User on 'default'",
        "h-ann", ["post"],
    ),
}

M2M_MESSAGE = (
    "Cross-database join through clubs.Membership.user (part of the many-to-many clubs.Club.members): "
    "clubs.Membership lives on 'shop_db' and auth.User on 'default', so this query on 'shop_db' would "
    "need a SQL join with table 'auth_user' from 'default', which one database cannot do "
    "(select_related(), a filter, values() or order_by() through 'memberships__user'). The query was "
    "not sent. Use prefetch_related('memberships__user') to load the related objects with a second "
    "query on 'default', or look the ids up first: ids = list(User.objects.filter(username=...)"
    ".values_list('pk', flat=True)), then Club.objects.filter(memberships__user_id__in=ids)."
)


def test_filters_through_a_cross_database_relation_raise_naming_the_hop_with_a_suggestion_that_runs(
    seed: Seed,
) -> None:
    out = seed.shell(
        PRELUDE
        + dedent("""
        ann = User.objects.create_user("h-ann")
        bob = User.objects.create_user("h-bob")
        post = Post.objects.create(title="h-post", author=ann)
        Customer.objects.create(user=ann, loyalty_points=7)
        club = Club.objects.create(name="h-club", owner=ann)
        Membership.objects.create(club=club, user=bob)
        book = Book.objects.create(title="h-book", owner=ann)
        TaggedItem.objects.create(content_object=book, tag="h-tag")
        named = {
            ("User", ann.pk): "ann", ("User", bob.pk): "bob", ("Post", post.pk): "post",
            ("Club", club.pk): "club", ("Book", book.pk): "book",
            ("Comment", Comment.objects.create(post=post, author=bob, body="h").pk): "comment",
            ("Promotion", Promotion.objects.create(post=post, code="h").pk): "promotion",
        }

        def suggested(message, value):
            # The message's two-step query, with the values filled in for its "...".
            hint = message.split("look the ids up first: ", 1)[1][:-1]
            code = hint.replace("filter(...)", "filter()").replace("=...", f"={value!r}")
            *steps, last = code.split(", then ")
            names = dict(globals())
            for step in steps:
                exec(step, names)
            return {"code": code, "found": sorted(
                named.get((obj._meta.object_name, obj.pk), "other") for obj in eval(last, names))}

        expressions = EXPRESSIONS
        out = {}
        for expression, value in expressions.items():
            outcome = counted(lambda: eval(expression))
            if "error" in outcome:
                try:
                    outcome["suggested"] = suggested(outcome["error"], value)
                except Exception as error:
                    outcome["suggested"] = {"failed": f"{type(error).__name__}: {error}"}
            out[expression] = outcome
        result(out)
        """).replace("EXPRESSIONS", repr({e: spec[4] for e, spec in REFUSED.items()}))
    )
    for expression, (relation, alias, table_alias, models, _, found) in REFUSED.items():
        outcome = out[expression]
        assert "error" in outcome, (expression, outcome)
        assert sum(outcome["queries"].values()) == 0, outcome  # refused before anything was sent
        assert (outcome["relation"], outcome["alias"], outcome["table_alias"]) == (relation, alias, table_alias)
        message = outcome["error"]
        assert message.startswith(f"Cross-database join through {relation}"), message
        assert f": {models}, so this query on '{alias}'" in message, message
        assert "The query was not sent." in message
        assert "failed" not in outcome["suggested"], (expression, outcome["suggested"])
        if found is not None:
            assert outcome["suggested"]["found"] == found, (expression, outcome["suggested"])
    assert out["list(Club.objects.filter(members__username='h-bob'))"]["error"] == M2M_MESSAGE
    reverse = out["list(User.objects.filter(clubs__name='h-club'))"]["error"]
    assert reverse.startswith(
        "Cross-database join through auth.User.memberships (the reverse of clubs.Membership.user, "
        "part of the many-to-many clubs.Club.members): "
    )
    assert "ids = list(Membership.objects.filter(club__name=...).values_list('user_id', flat=True)), " \
           "then User.objects.filter(pk__in=ids)." in reverse
    generic = out["list(Book.objects.filter(tags__tag='h-tag'))"]["error"]
    assert "ids = list(TaggedItem.objects.filter(content_type=ContentType.objects.get_for_model(Book), " \
           "tag=...).values_list('object_id', flat=True)), then Book.objects.filter(pk__in=ids)." in generic
    two = out["list(Promotion.objects.filter(post__author__username='h-ann'))"]["error"]
    assert two.endswith(
        "ids = list(User.objects.filter(username=...).values_list('pk', flat=True)), then "
        "ids2 = list(Post.objects.filter(author_id__in=ids).values_list('pk', flat=True)), then "
        "Promotion.objects.filter(post_id__in=ids2)."
    )
    nested = out["list(Comment.objects.filter(post__author__username='h-ann'))"]["error"]
    assert "prefetch_related('post__author')" in nested
    assert nested.endswith("then Comment.objects.filter(post__author_id__in=ids).")
