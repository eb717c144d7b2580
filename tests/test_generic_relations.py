"""Generic relations across databases: tags on ``default``, the tagged books on ``shop_db``.

``tagging.TaggedItem`` (a ``GenericForeignKey``, next to contenttypes on
``default``) tags ``library.Book`` rows that live on ``shop_db``, through the
book's ``GenericRelation``. Plain Django looks content types, tags and books up
on whichever database the instance at hand came from. Here every lookup runs where
its table lives: the reverse manager, the forward ``content_object``,
``prefetch_related`` both ways, assignment, and the deletes that go through the
relation. Tested in ``manage.py shell`` on real PostgreSQL databases and SQLite
files, and the rows are checked in each database directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.seed_project.harness import Seed, make_seed

GENERIC_APPS = {"EXTRA_APPS": "tagging,library", "DB_ROUTE_LIBRARY": "shop_db"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    yield from make_seed(request.param, tmp_path_factory.mktemp("generic"), env=GENERIC_APPS)


def tags_of(seed: Seed, book: int) -> list[str]:
    """The tags of ``book``, read from ``default`` directly."""
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
