"""Scenarios the router tests run in a subprocess: ``python probe.py <scenario>``.

Each prints one JSON object on stdout. Every connection records the SQL it
actually sends (a recorder added innermost, after djcfg-env's own wrappers),
so a test can assert which alias got which statement, or that none was sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerproj.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connections, router  # noqa: E402

from analytics.models import Event  # noqa: E402
from blog.models import Comment, Post  # noqa: E402
from shop.models import Product  # noqa: E402

SENT: list[tuple[str, str]] = []


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
    names = ("auth_user", "blog_post", "blog_comment", "shop_product", "analytics_event")
    return sorted({name for a, sql in SENT if a == alias for name in names if name in sql})


def routing() -> dict[str, Any]:
    _record_all()
    user = User.objects.create(username="ada")
    post = Post.objects.create(author=user, title="Hello")
    Comment.objects.create(post=post, body="First")
    Product.objects.create(name="Book", price=12)
    SENT.clear()
    fresh = Post.objects.get(pk=post.pk)
    author = fresh.author.username
    titles = [p.title for p in User.objects.get(pk=user.pk).blog_posts.all()]
    comments = [c.body for c in fresh.comments.all()]
    events = list(Event.objects.values_list("name", flat=True))
    products = list(Product.objects.values_list("name", flat=True))
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
        "events": events,
        "products": products,
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
    _record_all()
    existing = Event.objects.get(pk=1)
    SENT.clear()

    def save_existing() -> None:
        existing.name = "changed"
        existing.save()

    operations = {
        "save": lambda: Event(name="new").save(),
        "create": lambda: Event.objects.create(name="new"),
        "save_existing": save_existing,
        "instance_delete": lambda: existing.delete(),
        "queryset_update": lambda: Event.objects.filter(pk=1).update(name="z"),
        "queryset_delete": lambda: Event.objects.all().delete(),
        "bulk_create": lambda: Event.objects.bulk_create([Event(name="b")]),
        "bulk_update": lambda: Event.objects.bulk_update([existing], ["name"]),
        "get_or_create": lambda: Event.objects.get_or_create(name="seed"),
        "update_or_create": lambda: Event.objects.update_or_create(name="seed", defaults={"user_id": 3}),
        "explicit_using": lambda: Post.objects.using("analytics").create(author_id=1, title="t"),
        "async_create": lambda: asyncio.run(Event.objects.acreate(name="a")),
        "raw_insert": lambda: connections["analytics"].cursor().execute(
            "INSERT INTO analytics_event (name) VALUES ('raw')"
        ),
        "raw_delete": lambda: connections["analytics"].cursor().execute("DELETE FROM analytics_event"),
    }
    results = [_attempt(name, action) for name, action in operations.items()]
    SENT.clear()
    reads = {
        "count": Event.objects.count(),
        "names": list(Event.objects.values_list("name", flat=True)),
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
                raw.execute("INSERT INTO analytics_event (name) VALUES ('bypass')")
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
