"""Deleting a user from the Django admin when the user's rows are spread over three databases.

The admin's delete confirmation page collects what would go with ``NestedObjects``
(a deletion ``Collector``) and ``select_related()``s the relation that led to each
row. With djcfg-env it lists the rows in every database (the user's posts and
comments in ``blog_db``, its customer, wishlist and promotion in ``shop_db``),
shows a cross-database ``PROTECT`` as a protected object, and the confirmed delete
removes everything, all through the admin's own views and the test client, on
real PostgreSQL databases and SQLite files.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from tests.seed_project.harness import Seed, make_seed
from tests.test_relations import NOTHING_LEFT, all_present, snapshot, world_rows

ADMIN_APPS = {"EXTRA_APPS": "django.contrib.admin,django.contrib.messages,django.contrib.sessions"}

#: The admin's client, logged in as a superuser, for the code that follows it.
CLIENT = """
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
from seedsite.world import make_world
setup_test_environment()  # lets the client's host 'testserver' in
admin_user = User.objects.create_superuser(f"admin-{User.objects.count()}", "admin@example.com", None)
client = Client()
client.force_login(admin_user)
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    yield from make_seed(request.param, tmp_path_factory.mktemp("admin"), env=ADMIN_APPS)


def admin_shell(seed: Seed, code: str) -> dict[str, object]:
    """Run ``code`` in the seed's shell after :data:`CLIENT`; what it passed to ``result()``."""
    return seed.shell(CLIENT + textwrap.dedent(code))  # type: ignore[no-any-return]


def without_admins(rows: dict[str, dict[str, list[tuple[object, ...]]]]) -> object:
    """A copy of a snapshot without the superusers each test logs in with (column 4 is the username)."""
    users = [row for row in rows["default"]["auth_user"] if not str(row[4]).startswith("admin-")]
    return {**rows, "default": {**rows["default"], "auth_user": users}}


def text(page: str) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_confirmation_page_lists_the_rows_in_every_database(seed: Seed) -> None:
    out: dict[str, Any] = admin_shell(
        seed,
        """
        world = make_world("admin-page")
        page = client.get(f"/admin/auth/user/{world['user']}/delete/")
        result({"world": world, "status": page.status_code, "html": page.content.decode()})
        """
    )
    assert out["status"] == 200
    page = text(out["html"])
    world = out["world"]
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
    assert world_rows(seed, world) == all_present(world)


def test_a_cross_database_protect_shows_as_protected_and_changes_nothing(seed: Seed) -> None:
    world = seed.shell('from seedsite.world import make_world\nresult(make_world("admin-protect", order=True))')
    before = snapshot(seed)
    out: dict[str, Any] = admin_shell(
        seed,
        f"""
        page = client.get("/admin/auth/user/{world['user']}/delete/")
        posted = client.post("/admin/auth/user/{world['user']}/delete/", {{"post": "yes"}})
        result({{"status": page.status_code, "html": page.content.decode(),
                "posted": posted.status_code}})
        """
    )
    assert out["status"] == 200
    page = text(out["html"])
    assert "would require deleting the following protected related objects" in page
    assert f"Order: Order object ({world['order']})" in page
    # Confirming anyway only shows the page again (the admin's rule); nothing changed.
    assert out["posted"] == 200
    assert without_admins(snapshot(seed)) == without_admins(before)


def test_confirming_deletes_the_rows_in_every_database(seed: Seed) -> None:
    out: dict[str, Any] = admin_shell(
        seed,
        """
        doomed = make_world("admin-doomed")
        kept = make_world("admin-kept")
        posted = client.post(f"/admin/auth/user/{doomed['user']}/delete/", {"post": "yes"})
        result({"doomed": doomed, "kept": kept, "status": posted.status_code,
                "location": posted.get("Location")})
        """
    )
    assert (out["status"], out["location"]) == (302, "/admin/auth/user/")
    assert world_rows(seed, out["doomed"]) == NOTHING_LEFT
    assert world_rows(seed, out["kept"]) == all_present(out["kept"])
