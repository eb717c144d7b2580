"""Deleting a user from the Django admin when the user's rows are spread over three databases.

The admin's delete confirmation page collects what would go with ``NestedObjects``
(a deletion ``Collector``) and ``select_related()``s the relation that led to each
row. With djcfg-env it lists the rows in every database (the user's posts and
comments in ``blog_db``, its customer, wishlist and promotion in ``shop_db``),
shows a cross-database ``PROTECT`` as a protected object, and the confirmed delete
removes everything: the admin's own views through the test client, in process
(tests/settings.py installs the admin), with the rows read back on each alias.
"""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from seedsite.world import make_world

from tests.conftest import SEED_DATABASES
from tests.seed_project.harness import NOTHING_LEFT, InProcess, all_present, snapshot, world_rows

pytestmark = pytest.mark.django_db(databases=SEED_DATABASES)


@pytest.fixture
def admin() -> Client:
    """The test client, logged in as a superuser."""
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", None))
    return client


def text(page: str) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_confirmation_page_lists_the_rows_in_every_database(admin: Client, sql: InProcess) -> None:
    world = make_world("admin-page")
    response = admin.get(f"/admin/auth/user/{world['user']}/delete/")
    assert response.status_code == 200
    page = text(response.content.decode())
    # The summary counts what the delete would remove, in each database.
    for line in ("Users: 1", "Posts: 2", "Comments: 3", "Customers: 1", "Wishlists: 1", "Promotions: 1"):
        assert line in page, page
    # The tree: the user, its posts (blog_db) with their comments and the promotion (shop_db).
    for item in (
        "Post: admin-page first",
        "Post: admin-page second",
        *(f"Comment: Comment object ({pk})" for pk in world["comments"]),
        f"Customer: Customer object ({world['customer']})",
        f"Wishlist: Wishlist object ({world['wishlist']})",
        f"Promotion: Promotion object ({world['promotion']})",
    ):
        assert item in page, item
    assert "protected" not in page.lower()
    # Showing the page deleted nothing.
    assert world_rows(sql, world) == all_present(world)


def test_a_cross_database_protect_shows_as_protected_and_changes_nothing(admin: Client, sql: InProcess) -> None:
    world = make_world("admin-protect", order=True)
    before = snapshot(sql)
    response = admin.get(f"/admin/auth/user/{world['user']}/delete/")
    assert response.status_code == 200
    page = text(response.content.decode())
    assert "would require deleting the following protected related objects" in page
    assert f"Order: Order object ({world['order']})" in page
    # Confirming anyway only shows the page again (the admin's rule); nothing changed.
    assert admin.post(f"/admin/auth/user/{world['user']}/delete/", {"post": "yes"}).status_code == 200
    assert snapshot(sql) == before


def test_confirming_deletes_the_rows_in_every_database(admin: Client, sql: InProcess) -> None:
    doomed = make_world("admin-doomed")
    kept = make_world("admin-kept")
    posted = admin.post(f"/admin/auth/user/{doomed['user']}/delete/", {"post": "yes"})
    assert (posted.status_code, posted.get("Location")) == (302, "/admin/auth/user/")
    assert world_rows(sql, doomed) == NOTHING_LEFT
    assert world_rows(sql, kept) == all_present(kept)
