"""Read replicas at run time, in process: which alias each read goes to, and why.

tests/settings.py has three read-only mirrors of ``blog_db`` (they share its
in-memory test database, as a replica shares its primary's data);
:func:`replicated` makes them replicas of ``blog_db`` with ``override_settings``,
as ``replica_of=blog_db`` does. Every statement each connection sends is
recorded (:func:`served`), so a test asserts where a read really went. The tests
run without a wrapping transaction (``transaction=True``): inside ``atomic()``
every read goes to the primary, which is one of the things tested here.
Real streaming replication (lag, a stopped standby) is tests/test_replica_streaming.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from blog.models import Comment, Post
from django.contrib.auth.models import User
from django.db import connections, router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.test import Client, override_settings
from django.urls import path

import djcfg_env
from djcfg_env.exceptions import CrossDatabaseJoinError
from djcfg_env.middleware import COOKIE_NAME, SALT, ReplicaPinningMiddleware
from djcfg_env.orm import replicas
from djcfg_env.router import AppDatabaseRouter

BLOG_REPLICAS = ["blog_db_replica", "blog_db_replica_2"]
DOWN = "blog_db_replica_down"
DATABASES = ["default", "blog_db", "shop_db", *BLOG_REPLICAS]
in_process = pytest.mark.django_db(databases=DATABASES, transaction=True)


class Clock:
    """Both time sources of djcfg_env.orm.replicas, moved by hand."""

    def __init__(self) -> None:
        self.monotonic = 1000.0
        self.wall = 1_700_000_000.0

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    now = Clock()
    monkeypatch.setattr(replicas, "_clock", lambda: now.monotonic)
    monkeypatch.setattr(replicas, "_wall", lambda: now.wall)
    return now


@pytest.fixture
def replicated(clock: Clock) -> Iterator[Callable[..., None]]:
    """``replicated(["blog_db_replica"], max_lag=..., pin=...)``: blog_db gets those replicas."""
    overrides: list[override_settings] = []

    def make(
        names: list[str] = BLOG_REPLICAS, max_lag: dict[str, float] | None = None, pin: float = 15.0
    ) -> None:
        override = override_settings(
            DATABASE_REPLICAS={"blog_db": list(names)},
            DATABASE_REPLICA_MAX_LAG=max_lag or {},
            DB_REPLICA_PIN_SECONDS=pin,
        )
        override.enable()
        overrides.append(override)
        replicas.reset_context()

    make()
    yield make
    for override in reversed(overrides):
        override.disable()
    replicas.reset_context()


@pytest.fixture
def served() -> Iterator[list[tuple[str, str]]]:
    """(alias, sql) of every statement sent on the blog aliases and default, in order."""
    sent: list[tuple[str, str]] = []
    stack = []
    for alias in ("default", "blog_db", *BLOG_REPLICAS):

        def record(execute: Any, sql: str, params: Any, many: bool, context: Any, alias: str = alias) -> Any:
            sent.append((alias, sql))
            return execute(sql, params, many, context)

        wrapper = connections[alias].execute_wrapper(record)
        wrapper.__enter__()
        stack.append(wrapper)
    yield sent
    for wrapper in reversed(stack):
        wrapper.__exit__(None, None, None)


def aliases_of(sent: list[tuple[str, str]], table: str = "blog_post") -> list[str]:
    return [alias for alias, sql in sent if table in sql and sql.lstrip().upper().startswith("SELECT")]


def in_new_context(func: Callable[[], Any]) -> Any:
    """Run ``func`` as a new request would: in a fresh context."""
    context = contextvars.copy_context()

    def run() -> Any:
        replicas.reset_context()
        return func()

    return context.run(run)


def make_post(title: str) -> Post:
    author = User.objects.create(username=f"author-{title}")
    with replicas.use_primary():
        post = Post.objects.create(title=title, author=author)
    return post


# -- choosing a replica ---------------------------------------------------------------------------


@in_process
def test_reads_go_to_a_replica_and_stick_to_it_within_a_context(replicated, served) -> None:
    in_new_context(lambda: make_post("sticky"))
    served.clear()

    def read_ten_times() -> set[str]:
        for _ in range(10):
            assert Post.objects.get(title="sticky").title == "sticky"
        return set(aliases_of(served[-10:]))

    used: set[str] = set()
    for _ in range(30):
        one = in_new_context(read_ten_times)
        assert len(one) == 1 and one <= set(BLOG_REPLICAS)  # one replica per context
        used |= one
    assert used == set(BLOG_REPLICAS)  # spread over both (30 fresh choices)
    assert "blog_db" not in aliases_of(served)
    # The router's answer is where the query ran; writes and other apps are untouched.
    assert in_new_context(lambda: router.db_for_read(Post)) in BLOG_REPLICAS
    assert in_new_context(lambda: router.db_for_write(Post)) == "blog_db"
    assert in_new_context(lambda: router.db_for_read(User)) == "default"


@in_process
def test_a_thread_and_an_asyncio_task_are_contexts_of_their_own(replicated, served) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("threads"))
    Post.objects.create(title="here", author_id=1)  # this context now reads blog_db
    assert router.db_for_read(Post) == "blog_db"
    seen: list[str] = []

    def in_thread() -> None:
        try:
            seen.append(router.db_for_read(Post))
        finally:
            connections.close_all()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()

    async def task() -> str:
        replicas.reset_context()  # as request_started does for each ASGI request
        return router.db_for_read(Post)

    assert seen == ["blog_db_replica"]
    assert asyncio.run(task()) == "blog_db_replica"
    assert router.db_for_read(Post) == "blog_db"  # still pinned here


@in_process
def test_reads_inside_atomic_on_the_primary_go_to_the_primary(replicated, served) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("atomic"))

    def scenario() -> None:
        with transaction.atomic(using="blog_db"):
            Post.objects.get(title="atomic")
            with transaction.atomic(using="blog_db"):  # nested: a savepoint
                Post.objects.get(title="atomic")
            Post.objects.get(title="atomic")
        with transaction.atomic(using="default"):  # another database's transaction: no effect
            Post.objects.get(title="atomic")
        Post.objects.get(title="atomic")

    served.clear()
    in_new_context(scenario)
    assert aliases_of(served) == ["blog_db", "blog_db", "blog_db", "blog_db_replica", "blog_db_replica"]

    @transaction.atomic(using="blog_db")
    def decorated() -> str:
        return Post.objects.get(title="atomic")._state.db

    assert in_new_context(decorated) == "blog_db"


@in_process
def test_every_read_after_a_write_in_the_same_context_goes_to_the_primary(replicated, served) -> None:
    replicated(["blog_db_replica"], pin=0)

    def scenario() -> str:
        author = User.objects.create(username="writer")
        assert not Post.objects.filter(title="written").exists()  # before any write: the replica
        post = Post.objects.create(title="written", author=author)
        again = Post.objects.get(pk=post.pk)  # read-your-writes, even with no pin at all
        assert list(again.comments.all()) == []
        return str(again._state.db)

    served.clear()
    assert in_new_context(scenario) == "blog_db"
    assert aliases_of(served) == ["blog_db_replica", "blog_db"]
    assert aliases_of(served, "blog_comment") == ["blog_db"]
    # Another context (the next request) reads the replica again.
    assert in_new_context(lambda: Post.objects.get(title="written")._state.db) == "blog_db_replica"
    # A write to another primary pins nothing here.
    assert (
        in_new_context(
            lambda: (User.objects.create(username="other"), Post.objects.get(title="written")._state.db)[1]
        )
        == "blog_db_replica"
    )


@in_process
def test_an_update_and_a_delete_count_as_writes(replicated) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("upd"))
    assert (
        in_new_context(
            lambda: (Post.objects.filter(title="upd").update(title="upd2"), router.db_for_read(Post))[1]
        )
        == "blog_db"
    )
    assert (
        in_new_context(lambda: (Post.objects.filter(title="none").delete(), router.db_for_read(Post))[1])
        == "blog_db"
    )


@in_process
def test_use_primary_as_context_manager_and_decorator_nested(replicated, served) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("forced"))

    @djcfg_env.use_primary()
    def decorated() -> str:
        return Post.objects.get(title="forced")._state.db

    def scenario() -> list[str]:
        found = [Post.objects.get(title="forced")._state.db]
        with djcfg_env.use_primary():
            found.append(Post.objects.get(title="forced")._state.db)
            with djcfg_env.use_primary():
                found.append(Post.objects.get(title="forced")._state.db)
            found.append(Post.objects.get(title="forced")._state.db)
        found.append(Post.objects.get(title="forced")._state.db)
        found.append(decorated())
        found.append(Post.objects.get(title="forced")._state.db)
        return found

    assert in_new_context(scenario) == [
        "blog_db_replica",
        "blog_db",
        "blog_db",
        "blog_db",
        "blog_db_replica",
        "blog_db",
        "blog_db_replica",
    ]
    assert djcfg_env.use_primary is replicas.use_primary


@in_process
def test_use_primary_decorates_async_functions(replicated) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("async"))

    @djcfg_env.use_primary()
    async def decorated() -> str:
        post = await Post.objects.aget(title="async")
        return str(post._state.db)

    async def plain() -> str:
        post = await Post.objects.aget(title="async")
        return str(post._state.db)

    async def both() -> list[str]:
        replicas.reset_context()
        return [await decorated(), await plain()]

    assert asyncio.run(both()) == ["blog_db", "blog_db_replica"]


# -- pins ------------------------------------------------------------------------------------------


@in_process
def test_a_pin_holds_until_it_expires(replicated, clock) -> None:
    replicated(["blog_db_replica"])

    def scenario() -> list[str]:
        found = [router.db_for_read(Post)]
        replicas.pin("blog_db", clock.wall + 15)
        found.append(router.db_for_read(Post))
        clock.advance(14.5)
        found.append(router.db_for_read(Post))
        clock.advance(1)
        found.append(router.db_for_read(Post))
        return found

    assert in_new_context(scenario) == ["blog_db_replica", "blog_db", "blog_db", "blog_db_replica"]


# -- health: a replica that cannot be reached ---------------------------------------------------------


@pytest.mark.django_db(databases=[*DATABASES, DOWN], transaction=True)
def test_a_replica_that_cannot_connect_cools_down_with_one_warning(replicated, clock, caplog) -> None:
    replicated([DOWN])
    in_new_context(lambda: make_post("down"))
    caplog.set_level(logging.WARNING, logger="djcfg_env.replicas")
    # The read that finds it down still gets its answer, from the primary.
    assert in_new_context(lambda: Post.objects.get(title="down")._state.db) == "blog_db"
    for _ in range(3):  # other requests during the cool-down: not tried again, no new warning
        assert in_new_context(lambda: Post.objects.get(title="down")._state.db) == "blog_db"
    records = [r for r in caplog.records if r.name == "djcfg_env.replicas"]
    assert len(records) == 1
    (record,) = records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"'{DOWN}'" in message and "'blog_db'" in message and "30 s" in message
    assert "n0t-a-real-pw" not in message and "tests-only-not-a-secret" not in message
    # After the cool-down it is tried again (and, still down, warned about once more).
    clock.advance(replicas.COOL_DOWN_SECONDS + 1)
    assert in_new_context(lambda: Post.objects.get(title="down")._state.db) == "blog_db"
    assert len([r for r in caplog.records if r.name == "djcfg_env.replicas"]) == 2


@pytest.mark.django_db(databases=[*DATABASES, DOWN], transaction=True)
def test_a_down_replica_is_skipped_for_a_healthy_one(replicated, caplog) -> None:
    replicated([DOWN, "blog_db_replica"])
    in_new_context(lambda: make_post("skip"))
    caplog.set_level(logging.WARNING, logger="djcfg_env.replicas")
    found = {in_new_context(lambda: Post.objects.get(title="skip")._state.db) for _ in range(20)}
    assert found == {"blog_db_replica"}
    assert len([r for r in caplog.records if r.name == "djcfg_env.replicas"]) == 1


@in_process
def test_lag_is_not_measured_on_sqlite(replicated) -> None:
    replicated(["blog_db_replica"], max_lag={"blog_db_replica": 0.5})
    assert replicas.lag("blog_db_replica") == 0.0
    assert in_new_context(lambda: router.db_for_read(Post)) == "blog_db_replica"


@in_process
def test_the_switch_off_sends_every_read_to_the_primary(replicated) -> None:
    with override_settings(DJCFG_ENV={"REPLICAS": False}):
        assert in_new_context(lambda: router.db_for_read(Post)) == "blog_db"
    assert in_new_context(lambda: router.db_for_read(Post)) in BLOG_REPLICAS


# -- one database: relations, the join guard, deletes, migrate ----------------------------------------


@in_process
def test_a_replica_and_its_primary_are_one_database(replicated) -> None:
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("joined"))

    def scenario() -> None:
        # Joins and subqueries within blog_db's tables, read from the replica.
        comments = Comment.objects.filter(post__in=Post.objects.filter(title="joined"))
        assert comments.db == "blog_db_replica" and list(comments) == []
        assert Post.objects.filter(comments__body="x").count() == 0
        # select_related() across to default: split into a prefetch, which works.
        post = Post.objects.select_related("author").get(title="joined")
        assert post._state.db == "blog_db_replica" and post.author.username == "author-joined"
        # A relation between a row read from the replica and one from the primary.
        assert AppDatabaseRouter().allow_relation(post, Post.objects.using("blog_db").get(pk=post.pk))
        # A join into another primary is still refused, naming the hop.
        with pytest.raises(CrossDatabaseJoinError, match="blog.Post.author"):
            list(Post.objects.filter(author__username="x"))
        # default's tables are not on blog_db's replica.
        with pytest.raises(CrossDatabaseJoinError, match="auth_user"):
            list(User.objects.using("blog_db_replica").all())
        # A delete of a row read from the replica runs on the primary, cascade included.
        Comment.objects.using("blog_db").create(post=post, author_id=post.author_id, body="c")
        deleted, counts = post.delete()
        assert counts["blog.Comment"] == 1 and counts["blog.Post"] == 1

    in_new_context(scenario)
    assert not Post.objects.using("blog_db").filter(title="joined").exists()


@in_process
def test_allow_migrate_is_false_on_a_replica(replicated) -> None:
    on = AppDatabaseRouter()
    assert on.allow_migrate("blog_db", "blog") is True
    assert on.allow_migrate("blog_db_replica", "blog") is False
    assert on.allow_migrate("blog_db_replica", "blog", model_name="post", model=Post) is False


# -- the pinning middleware -----------------------------------------------------------------------------


def _write_view(request: HttpRequest) -> HttpResponse:
    author, _ = User.objects.get_or_create(username="poster")
    Post.objects.create(title=request.POST["title"], author=author)
    return HttpResponseRedirect(f"/read/?title={request.POST['title']}")


def _read_view(request: HttpRequest) -> HttpResponse:
    post = Post.objects.filter(title=request.GET["title"]).first()
    return JsonResponse({"served_by": Post.objects.all().db, "found": post is not None})


urlpatterns = [path("write/", _write_view), path("read/", _read_view)]

pinning = override_settings(
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["djcfg_env.middleware.ReplicaPinningMiddleware"],
)


@in_process
@pinning
def test_the_cookie_carries_the_pin_across_post_redirect_get(replicated, clock) -> None:
    replicated(["blog_db_replica"])
    client = Client()
    response = client.post("/write/", {"title": "prg"}, follow=True)
    assert response.redirect_chain == [("/read/?title=prg", 302)]
    assert response.json() == {"served_by": "blog_db", "found": True}
    cookie = client.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert cookie["max-age"] == 15
    # Signed: the value is the primaries and their expiry, readable only with the salt.
    from django.core import signing

    assert signing.loads(cookie.value, salt=SALT) == {"blog_db": pytest.approx(clock.wall + 15)}
    # Still pinned 10 s later (and the cookie is renewed for what is left of the pin).
    clock.advance(10)
    response = client.get("/read/", {"title": "prg"})
    assert response.json()["served_by"] == "blog_db"
    assert response.cookies[COOKIE_NAME]["max-age"] == 5
    # Expired: the replica again, and the cookie is deleted.
    clock.advance(6)
    response = client.get("/read/", {"title": "prg"})
    assert response.json() == {"served_by": "blog_db_replica", "found": True}
    assert response.cookies[COOKIE_NAME].value == ""
    # A client that never wrote reads the replica and gets no cookie.
    fresh = Client()
    response = fresh.get("/read/", {"title": "prg"})
    assert response.json()["served_by"] == "blog_db_replica" and COOKIE_NAME not in response.cookies


@in_process
@pinning
def test_the_cookie_is_secure_over_https_and_a_tampered_one_is_ignored(replicated) -> None:
    replicated(["blog_db_replica"])
    client = Client()
    client.post("/write/", {"title": "tls"}, secure=True)
    cookie = client.cookies[COOKIE_NAME]
    assert cookie["secure"] is True and cookie["httponly"] is True
    value = cookie.value
    tampered = Client()
    tampered.cookies[COOKIE_NAME] = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    response = tampered.get("/read/", {"title": "tls"}, secure=True)
    assert response.json()["served_by"] == "blog_db_replica"
    assert response.cookies[COOKIE_NAME].value == ""  # deleted
    # The genuine cookie, from another client, pins (it is the client's, not the session's).
    other = Client()
    other.cookies[COOKIE_NAME] = value
    assert other.get("/read/", {"title": "tls"}, secure=True).json()["served_by"] == "blog_db"


@in_process
@pinning
def test_no_cookie_when_pin_seconds_is_zero_but_the_request_still_reads_its_writes(replicated) -> None:
    replicated(["blog_db_replica"], pin=0)
    client = Client()
    response = client.post("/write/", {"title": "nopin"})
    assert COOKIE_NAME not in response.cookies
    assert client.get("/read/", {"title": "nopin"}).json()["served_by"] == "blog_db_replica"


def test_the_middleware_is_sync_and_async_capable() -> None:
    assert ReplicaPinningMiddleware.sync_capable and ReplicaPinningMiddleware.async_capable


@in_process
@pinning
def test_a_request_inside_an_open_transaction_reads_the_primary(replicated) -> None:
    # As in a TestCase: the test's transaction is open when the test client's request starts.
    replicated(["blog_db_replica"])
    in_new_context(lambda: make_post("tx"))
    with transaction.atomic(using="blog_db"):
        assert Client().get("/read/", {"title": "tx"}).json()["served_by"] == "blog_db"
        # Even in a context that never saw the block open (the connection says so).
        assert contextvars.Context().run(lambda: router.db_for_read(Post)) == "blog_db"
    assert Client().get("/read/", {"title": "tx"}).json()["served_by"] == "blog_db_replica"
