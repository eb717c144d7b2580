"""Generic relations across databases: tags on ``default``, the tagged books on ``shop_db``.

``tagging.TaggedItem`` (a ``GenericForeignKey``, next to contenttypes on
``default``) tags ``library.Book`` rows that live on ``shop_db``, through the
book's ``GenericRelation``. Plain Django looks content types, tags and books up
on whichever database the instance at hand came from. Here every lookup runs where
its table lives: the reverse manager, the forward ``content_object``,
``prefetch_related`` both ways, assignment, and the deletes that go through the
relation. Tested in process (tests/settings.py routes library to ``shop_db``);
the rows are read back with SQL on each alias. (tests/test_mariadb.py runs the
end-to-end versions, tests/seed_project/scenarios.py, on MariaDB.)
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from library.models import Book
from tagging.models import TaggedItem

from tests.conftest import SEED_DATABASES
from tests.seed_project.harness import InProcess
from tests.seed_project.scenarios import tags_of

pytestmark = pytest.mark.django_db(databases=SEED_DATABASES)


def test_the_tables_are_on_the_aliases_the_routes_name(sql: InProcess) -> None:
    # pytest-django migrated each alias: the router let each app's tables onto its own only.
    assert "library_book" in sql.tables("shop_db")
    assert "library_book" not in sql.tables("default")
    assert "tagging_taggeditem" in sql.tables("default")
    assert "tagging_taggeditem" not in sql.tables("shop_db")


def test_reading_and_writing_through_a_generic_relation_in_another_database(sql: InProcess) -> None:
    owner = User.objects.create_user("generic-reader")
    book = Book.objects.create(title="Dune", owner=owner)
    other = Book.objects.create(title="Emma", owner=owner)
    created = book.tags.create(tag="sci-fi")  # reverse manager, write
    assigned = TaggedItem.objects.create(content_object=book, tag="classic")  # assignment
    other.tags.create(tag="novel")
    tag = TaggedItem.objects.get(pk=created.pk)  # fresh: nothing cached
    forward = tag.content_object  # default -> shop_db
    assert created._state.db == assigned._state.db == "default"
    assert sorted(t.tag for t in Book.objects.get(pk=book.pk).tags.all()) == ["classic", "sci-fi"]
    assert (forward.title, forward._state.db) == ("Dune", "shop_db")
    prefetch_forward = sorted(
        (t.tag, t.content_object.title)
        for t in TaggedItem.objects.filter(object_id__in=[book.pk, other.pk]).prefetch_related("content_object")
    )
    assert prefetch_forward == [("classic", "Dune"), ("novel", "Emma"), ("sci-fi", "Dune")]
    prefetch_reverse = sorted(
        (b.title, sorted(t.tag for t in b.tags.all()))
        for b in Book.objects.filter(owner=owner).prefetch_related("tags")
    )
    assert prefetch_reverse == [("Dune", ["classic", "sci-fi"]), ("Emma", ["novel"])]
    assert tags_of(sql, book.pk) == ["classic", "sci-fi"]
    assert tags_of(sql, other.pk) == ["novel"]


def test_deleting_the_object_deletes_its_tags_in_another_database(sql: InProcess) -> None:
    owner = User.objects.create_user("generic-owner")
    doomed = Book.objects.create(title="Doomed", owner=owner)
    kept = Book.objects.create(title="Kept", owner=owner)
    for name in ("a", "b"):
        doomed.tags.create(tag=name)
    kept.tags.create(tag="stays")
    assert Book.objects.get(pk=doomed.pk).delete() == (3, {"library.Book": 1, "tagging.TaggedItem": 2})
    # A user's delete cascades to its books (shop_db), then to their tags (default):
    # the user's two remaining books (Kept, Cascaded) and their tags ("stays", "goes").
    cascaded = Book.objects.create(title="Cascaded", owner=owner)
    cascaded.tags.create(tag="goes")
    assert User.objects.filter(pk=owner.pk).delete() == (
        5, {"auth.User": 1, "library.Book": 2, "tagging.TaggedItem": 2}
    )
    for book in (doomed, kept, cascaded):
        assert tags_of(sql, book.pk) == []
        assert sql.count("shop_db", "library_book", "id = %s", [book.pk]) == 0
