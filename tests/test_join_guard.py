"""The cross-database join guard, in the seed project on real PostgreSQL databases and SQLite files.

A query that needs a table of another database in the same SQL statement
(select_related, a filter/values/order_by through the relation, a subquery)
raises CrossDatabaseJoinError before anything is sent; queries that stay in
one database, id lookups and prefetch_related are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent

import pytest

from tests.seed_project.harness import Seed, make_seed


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    yield from make_seed(request.param, tmp_path_factory.mktemp("join_guard"))


#: Runs each expression under CaptureQueriesContext on every alias and reports
#: what it raised (or returned) and how many queries reached each database.
PROBE = """
from django.contrib.auth.models import User
from django.db import connections
from django.test.utils import CaptureQueriesContext
from djcfg_env.relations import CrossDatabaseJoinError
from blog.models import Comment, Post
from shop.models import Customer

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

SELECT_RELATED_MESSAGE = (
    "Cross-database join through blog.Post.author: blog.Post lives on 'blog_db' and auth.User "
    "on 'default', so this query on 'blog_db' would need a SQL join with table 'auth_user' from "
    "'default', which one database cannot do (select_related(), a filter, values() or order_by() "
    "through 'author'). The query was not sent. Use prefetch_related('author') to load the related "
    "objects with a second query on 'default', or look the ids up first: ids = list(User.objects"
    ".filter(...).values_list('pk', flat=True)), then Post.objects.filter(author_id__in=ids)."
)


def test_cross_database_joins_raise_before_any_query_is_sent(seed: Seed) -> None:
    expressions = {
        # expression: (relation named, alias the query runs on, alias of the table)
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
    outcomes = seed.shell(PROBE + f"result([probe(e) for e in {list(expressions)!r}])")
    for outcome in outcomes:
        relation, alias, table_alias = expressions[outcome["expression"]]
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
    assert "ids = list(Post.objects.filter(...).values_list('author_id', flat=True)), then " \
           "User.objects.filter(pk__in=ids)" in reverse


def test_queries_within_one_database_and_id_lookups_are_untouched(seed: Seed) -> None:
    out = seed.shell(
        PROBE
        + dedent("""
        ann = User.objects.create_user("guard-ann")
        post = Post.objects.create(title="guarded", author=ann)
        Comment.objects.create(post=post, author=ann, body="hi")
        expressions = [
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
        result({"ann": ann.pk, "outcomes": [probe(e) for e in expressions]})
        """)
    )
    values = [outcome.get("value", outcome.get("error")) for outcome in out["outcomes"]]
    assert values == [
        ["guarded"], ["hi"], ["guarded"], ["guarded"], ["guarded"], ["guarded"], [out["ann"]],
        ["guard-ann"], ["guarded"],
    ]


STRAY_TABLE = {
    "postgresql": "CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128) NOT NULL, "
    "last_login timestamptz NULL, is_superuser boolean NOT NULL, username varchar(150) NOT NULL, "
    "first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, "
    "is_staff boolean NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL)",
    "sqlite": "CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128) NOT NULL, "
    "last_login datetime NULL, is_superuser bool NOT NULL, username varchar(150) NOT NULL, "
    "first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, "
    "is_staff bool NOT NULL, is_active bool NOT NULL, date_joined datetime NOT NULL)",
}


def test_a_stray_same_named_table_in_the_wrong_database_cannot_answer(seed: Seed) -> None:
    setup = seed.shell(
        """
        from django.contrib.auth.models import User
        from blog.models import Post
        real = User.objects.create_user("stray-real-author")
        post = Post.objects.create(title="stray", author=real)
        result({"user": real.pk, "post": post.pk})
        """
    )
    # What an earlier unrouted `migrate --database blog_db` leaves behind: an
    # auth_user in blog_db, here with an impostor under the real author's id.
    seed.execute("blog_db", STRAY_TABLE[seed.backend])
    try:
        seed.execute(
            "blog_db",
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, "
            f"email, is_staff, is_active, date_joined) VALUES ({setup['user']}, '', false, "
            "'stray-impostor', '', '', '', false, true, '2020-01-01 00:00:00+00')",
        )
        out = seed.shell(
            PROBE
            + dedent(f"""
            from django.test import override_settings
            guarded = [
                probe("[p.author.username for p in Post.objects.filter(pk={setup['post']}).select_related('author')]"),
                probe("list(Post.objects.filter(author__username='stray-impostor').values_list('pk', flat=True))"),
            ]
            override_settings(DJCFG_ENV={{"JOIN_GUARD": False}}).enable()  # plain Django's answer
            unguarded = probe("[p.author.username for p in Post.objects.filter(pk={setup['post']}).select_related('author')]")
            result({{"guarded": guarded, "unguarded": unguarded}})
            """)
        )
    finally:
        seed.execute("blog_db", "DROP TABLE auth_user")
    for outcome in out["guarded"]:
        assert outcome["relation"] == "blog.Post.author", outcome
        assert outcome["queries"] == 0, outcome
        assert "value" not in outcome, outcome  # nothing was read
    # Without the guard the wrong database answers, silently: this is what the guard prevents.
    assert out["unguarded"]["value"] == ["stray-impostor"]


def test_an_uncaught_error_reads_clearly_and_carries_no_connection_secret(seed: Seed) -> None:
    done = seed.shell(
        """
        from blog.models import Post
        list(Post.objects.select_related("author"))
        """,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"djcfg_env.exceptions.CrossDatabaseJoinError: {SELECT_RELATED_MESSAGE}"
    for secret in ("postgres://", "sqlite://", "SECRET_KEY", "seed-project-tests-not-a-secret"):
        assert secret not in done.stdout + done.stderr
    if seed.backend == "postgresql":
        assert f":{seed.env['DATABASE_URL'].split(':')[2].split('@')[0]}@" not in done.stderr


def test_docs_show_the_error_exactly_as_raised() -> None:
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "relations.md").read_text()
    block = text.split("djcfg_env.exceptions.CrossDatabaseJoinError: ", 1)[1].split("\n```", 1)[0]
    assert " ".join(block.split()) == SELECT_RELATED_MESSAGE


def test_a_read_only_replica_answers_joins_of_one_database_but_not_across_two(seed: Seed) -> None:
    # analytics as a read-only replica of default: the same database, read_only=true.
    default_url = seed.env["DATABASE_URL"]
    replica = f"{default_url}{'&' if '?' in default_url else '?'}read_only=true"
    code = (
        "from django.contrib.auth.models import Group, User\n"
        "from djcfg_env.relations import CrossDatabaseJoinError\n"
        "from blog.models import Post\n"
        "user = User.objects.create(username='replica-reader')\n"
        "user.groups.add(Group.objects.create(name='replica-readers'))\n"
        "print('JOINED', User.objects.using('analytics').filter(groups__name='replica-readers').count())\n"
        "try:\n"
        "    list(Post.objects.using('analytics').select_related('author'))\n"
        "except CrossDatabaseJoinError as error:\n"
        "    print('REFUSED', error.alias, error.table_alias)\n"
    )
    done = seed.manage("shell", "-v", "0", "-c", code, env={"DATABASE_URL_ANALYTICS": replica})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["JOINED", "1", "REFUSED", "analytics", "blog_db"]
