"""Scenarios the router and read-only tests run in a subprocess: ``python probe.py <scenario>``.

Each prints one JSON object on stdout. Every connection records the SQL it
actually sends (a recorder added innermost, after djcfg-env's own wrappers),
so a test can assert which alias got which statement, or that none was sent.
Run from this directory with the seed project's environment (see harness.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedsite.settings")

import django  # noqa: E402

django.setup()

from analytics.models import PageView  # noqa: E402
from blog.models import Comment, Post  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connections, router, transaction  # noqa: E402
from shop.models import Order  # noqa: E402

SENT: list[tuple[str, str]] = []
#: Every table of the seed project's models, to report which ones each alias was sent.
TABLES = (
    "auth_user", "blog_post", "blog_comment", "shop_customer", "shop_order", "shop_wishlist",
    "shop_promotion", "analytics_pageview",
)


def _recorder(alias: str) -> Any:
    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        SENT.append((alias, sql))
        return execute(sql, params, many, context)

    return record


def _record_all() -> None:
    router.db_for_read(User)  # create the router (and its read-only guard) first
    for alias in connections:
        connection = connections[alias]
        connection.ensure_connection()
        connection.execute_wrappers.append(_recorder(alias))


def _tables(alias: str) -> list[str]:
    return sorted({name for a, sql in SENT if a == alias for name in TABLES if name in sql})


def routing() -> dict[str, Any]:
    """Rows written through the ORM, then read back: which alias each read went to."""
    _record_all()
    user = User.objects.create(username="ada")
    post = Post.objects.create(author=user, title="Hello")
    Comment.objects.create(post=post, author=user, body="First")
    Order.objects.create(placed_by=user, total=Decimal("12"))
    SENT.clear()
    fresh = Post.objects.get(pk=post.pk)
    author = fresh.author.username
    titles = [p.title for p in User.objects.get(pk=user.pk).blog_posts.all()]
    comments = [c.body for c in fresh.comments.all()]
    views = list(PageView.objects.values_list("path", flat=True))
    orders = [str(total) for total in Order.objects.values_list("total", flat=True)]
    unknown = User(username="ghost")
    unknown._state.db = "nowhere"
    try:
        Post(author=unknown, title="x")
        refused = None
    except ValueError as error:
        refused = str(error)
    return {
        "author": author,
        "titles": titles,
        "comments": comments,
        "views": views,
        "orders": orders,
        "post_db": post._state.db,
        "user_db": user._state.db,
        "hint_ignored": router.db_for_read(Post, instance=user),
        "write_hint_ignored": router.db_for_write(User, instance=post),
        "cross_assignment_db": Post(author=user, title="y")._state.db,
        "refused": refused,
        "tables": {alias: _tables(alias) for alias in connections},
    }


def _attempt(name: str, action: Any) -> dict[str, Any]:
    SENT.clear()
    try:
        action()
    except Exception as error:  # noqa: BLE001 - reported to the test
        return {"op": name, "error": type(error).__name__, "message": str(error), "sent": list(SENT)}
    return {"op": name, "error": None, "message": "", "sent": list(SENT)}


def read_only() -> dict[str, Any]:
    """Every write path against the read-only alias, then reads, then writes elsewhere."""
    _record_all()
    existing = PageView.objects.get(pk=1)
    SENT.clear()

    def save_existing() -> None:
        existing.path = "changed"
        existing.save()

    operations = {
        "save": lambda: PageView(path="new").save(),
        "create": lambda: PageView.objects.create(path="new"),
        "save_existing": save_existing,
        "instance_delete": lambda: existing.delete(),
        "queryset_update": lambda: PageView.objects.filter(pk=1).update(path="z"),
        "queryset_delete": lambda: PageView.objects.all().delete(),
        "bulk_create": lambda: PageView.objects.bulk_create([PageView(path="b")]),
        "bulk_update": lambda: PageView.objects.bulk_update([existing], ["path"]),
        "get_or_create": lambda: PageView.objects.get_or_create(path="seed"),
        "update_or_create": lambda: PageView.objects.update_or_create(path="seed", defaults={"user_id": 3}),
        "explicit_using": lambda: Post.objects.using("analytics").create(author_id=1, title="t"),
        "async_create": lambda: asyncio.run(PageView.objects.acreate(path="a")),
        "raw_insert": lambda: connections["analytics"].cursor().execute(
            "INSERT INTO analytics_pageview (path) VALUES ('raw')"
        ),
        "raw_delete": lambda: connections["analytics"].cursor().execute("DELETE FROM analytics_pageview"),
    }
    if connections["analytics"].features.has_select_for_update:  # SQLite has no row locks

        def select_for_update() -> None:
            with transaction.atomic(using="analytics"):
                list(PageView.objects.select_for_update().filter(pk=1))

        operations["select_for_update"] = select_for_update
    results = [_attempt(name, action) for name, action in operations.items()]
    SENT.clear()
    reads = {
        "count": PageView.objects.count(),
        "paths": list(PageView.objects.values_list("path", flat=True)),
        "sent_to": sorted({alias for alias, _ in SENT}),
    }
    # Writes elsewhere still work while the guard is on.
    user = User.objects.create(username="writer")
    Post.objects.create(author=user, title="ok")
    Post.objects.filter(author_id=user.pk).update(title="still ok")
    session = None
    connection = connections["analytics"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW default_transaction_read_only")
            session = cursor.fetchone()[0]
        # Below Django: the server itself refuses the write.
        try:
            with connection.connection.cursor() as raw:
                raw.execute("INSERT INTO analytics_pageview (path) VALUES ('bypass')")
            server = None
        except Exception as error:  # noqa: BLE001
            server = type(error).__name__
        connection.connection.rollback()
    else:
        server = None
    return {
        "results": results,
        "reads": reads,
        "posts": Post.objects.filter(title="still ok").count(),
        "session_read_only": session,
        "server_refusal": server,
    }


if __name__ == "__main__":
    print(json.dumps(globals()[sys.argv[1]]()))
