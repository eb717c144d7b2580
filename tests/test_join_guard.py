"""The cross-database join guard, in the seed layout.

A query that needs a table of another database in the same SQL statement
(select_related, a filter/values/order_by through the relation, a subquery)
raises CrossDatabaseJoinError before anything is sent; queries that stay in
one database, id lookups and prefetch_related are untouched. In process
(tests/settings.py), counting the queries that reach each alias; end to end on
PostgreSQL, where a stray same-named table is a real server's table, and where
``manage.py shell`` shows the uncaught error without a connection secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from blog.models import Comment, Post
from django.contrib.auth.models import Group, User
from django.test import override_settings
from shop.models import Customer

from djcfg_env.relations import CrossDatabaseJoinError
from tests.conftest import ROOT, SEED_DATABASES
from tests.seed_project.harness import InProcess, Seed
from tests.seed_project.scenarios import (
    JOIN_EXPRESSIONS,
    ONE_DATABASE_EXPRESSIONS,
    PROBE,
    SELECT_RELATED_MESSAGE,
    assert_join_outcomes,
    one_database_values,
)

in_process = pytest.mark.django_db(databases=SEED_DATABASES)


@pytest.fixture(autouse=True)
def select_related_not_prefetched() -> Iterator[None]:
    """select_related() across databases is prefetched while CROSS_DATABASE_SELECT_RELATED is on
    (tests/test_select_related.py): these tests show what the join guard says without it."""
    with override_settings(DJCFG_ENV={"CROSS_DATABASE_SELECT_RELATED": False}):
        yield


def probe(sql: InProcess, expression: str, **names: Any) -> dict[str, Any]:
    """Evaluate ``expression``: what it raised (or returned), and how many queries reached any alias."""
    namespace = {"User": User, "Post": Post, "Comment": Comment, "Customer": Customer, **names}
    outcome: dict[str, Any] = {"expression": expression}
    with sql.queries() as queries:
        try:
            outcome["value"] = eval(expression, namespace)
        except CrossDatabaseJoinError as error:
            outcome.update(error=str(error), relation=error.relation, alias=error.alias,
                           table_alias=error.table_alias)
    outcome["queries"] = sum(len(sent) for sent in queries.values())
    return outcome


@in_process
def test_joins_across_databases_raise_before_any_query_is_sent(sql: InProcess) -> None:
    assert_join_outcomes([probe(sql, expression) for expression in JOIN_EXPRESSIONS])


@in_process
def test_queries_within_one_database_and_id_lookups_pass(sql: InProcess) -> None:
    ann = User.objects.create_user("guard-ann")
    post = Post.objects.create(title="guarded", author=ann)
    Comment.objects.create(post=post, author=ann, body="hi")
    values = [probe(sql, e, ann=ann).get("value", "refused") for e in ONE_DATABASE_EXPRESSIONS]
    assert values == one_database_values(ann.pk)


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


def impostor(user: int) -> str:
    """An ``auth_user`` row under the real author's id, in the stray table."""
    return (
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, "
        f"email, is_staff, is_active, date_joined) VALUES ({user}, '', false, "
        "'stray-impostor', '', '', '', false, true, '2020-01-01 00:00:00+00')"
    )


@in_process
def test_a_stray_same_named_table_in_the_wrong_database_cannot_answer(sql: InProcess) -> None:
    real = User.objects.create_user("stray-real-author")
    post = Post.objects.create(title="stray", author=real)
    # What an earlier unrouted `migrate --database blog_db` leaves behind: an
    # auth_user in blog_db, here with an impostor under the real author's id
    # (made in the test's transaction: gone when it is rolled back).
    sql.execute("blog_db", STRAY_TABLE["sqlite"])
    sql.execute("blog_db", impostor(real.pk))
    joined = f"[p.author.username for p in Post.objects.filter(pk={post.pk}).select_related('author')]"
    for expression in (
        joined,
        "list(Post.objects.filter(author__username='stray-impostor').values_list('pk', flat=True))",
    ):
        outcome = probe(sql, expression)
        assert outcome.get("relation") == "blog.Post.author", outcome
        assert outcome["queries"] == 0, outcome
        assert "value" not in outcome, outcome  # nothing was read
    # Without the guard the wrong database answers, silently: this is what the guard prevents.
    with override_settings(DJCFG_ENV={"JOIN_GUARD": False, "CROSS_DATABASE_SELECT_RELATED": False}):
        assert probe(sql, joined)["value"] == ["stray-impostor"]


@pytest.mark.django_db(databases=["default", "blog_db", "replica"], transaction=True)
def test_a_read_only_replica_answers_joins_of_one_database_but_not_across_two() -> None:
    # tests/settings.py's replica: read_only=true, the test mirror of default (so the
    # rows are committed: transaction=True).
    user = User.objects.create(username="replica-reader")
    user.groups.add(Group.objects.create(name="replica-readers"))
    assert User.objects.using("replica").filter(groups__name="replica-readers").count() == 1
    with pytest.raises(CrossDatabaseJoinError) as raised:
        list(Post.objects.using("replica").select_related("author"))
    assert (raised.value.alias, raised.value.table_alias) == ("replica", "blog_db")


def test_docs_show_the_error_exactly_as_raised() -> None:
    text = (ROOT / "docs" / "relations.md").read_text()
    block = text.split("djcfg_env.exceptions.CrossDatabaseJoinError: ", 1)[1].split("\n```", 1)[0]
    assert " ".join(block.split()) == SELECT_RELATED_MESSAGE


# -- end to end, on PostgreSQL ---------------------------------------------------------------

postgres_seed = pytest.mark.parametrize("seed", ["postgresql"], indirect=True)


@pytest.mark.postgres
@postgres_seed
def test_a_stray_same_named_table_in_a_postgresql_database_cannot_answer(seed: Seed) -> None:
    setup = seed.shell(
        """
        from django.contrib.auth.models import User
        from blog.models import Post
        real = User.objects.create_user("stray-real-author")
        post = Post.objects.create(title="stray", author=real)
        result({"user": real.pk, "post": post.pk})
        """
    )
    seed.execute("blog_db", STRAY_TABLE[seed.backend])
    try:
        seed.execute("blog_db", impostor(setup["user"]))
        out = seed.shell(
            PROBE
            + f"""
from django.test import override_settings
guarded = [
    probe("[p.author.username for p in Post.objects.filter(pk={setup['post']}).select_related('author')]"),
    probe("list(Post.objects.filter(author__username='stray-impostor').values_list('pk', flat=True))"),
]
# plain Django's answer
override_settings(DJCFG_ENV={{"JOIN_GUARD": False, "CROSS_DATABASE_SELECT_RELATED": False}}).enable()
unguarded = probe("[p.author.username for p in Post.objects.filter(pk={setup['post']}).select_related('author')]")
result({{"guarded": guarded, "unguarded": unguarded}})
"""
        )
    finally:
        seed.execute("blog_db", "DROP TABLE auth_user")
    for outcome in out["guarded"]:
        assert outcome["relation"] == "blog.Post.author", outcome
        assert outcome["queries"] == 0, outcome
        assert "value" not in outcome, outcome
    assert out["unguarded"]["value"] == ["stray-impostor"]


@pytest.mark.postgres
@postgres_seed
def test_an_uncaught_error_reads_clearly_and_carries_no_connection_secret(seed: Seed) -> None:
    done = seed.shell(
        """
        from django.test import override_settings
        from blog.models import Post
        override_settings(DJCFG_ENV={"CROSS_DATABASE_SELECT_RELATED": False}).enable()
        list(Post.objects.select_related("author"))
        """,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"djcfg_env.exceptions.CrossDatabaseJoinError: {SELECT_RELATED_MESSAGE}"
    for secret in ("postgres://", "sqlite://", "SECRET_KEY", seed.env["SECRET_KEY"]):
        assert secret not in done.stdout + done.stderr
    assert f":{seed.env['DATABASE_URL'].split(':')[2].split('@')[0]}@" not in done.stderr
