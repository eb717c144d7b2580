"""The admin shows a model that lives on a read-only alias view-only, instead of a 500 on save.

The seed project with the admin, on SQLite files: analytics.PageView (read-only alias) and
blog.Post (writable) registered; a superuser through the test client.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run
from tests.seed_project.harness import ANALYTICS_TABLE, CHECK_PROJECT, Seed, databases  # noqa: F401 - fixture

APPS = {"EXTRA_APPS": "django.contrib.admin,django.contrib.messages,django.contrib.sessions,roadmin"}

CLIENT = """
import json
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
from django.test import override_settings
from analytics.models import PageView
setup_test_environment()
admin_user = User.objects.create_superuser("admin", "admin@example.com", None)
client = Client()
client.force_login(admin_user)
view = PageView.objects.first()

def visit():
    listing = client.get("/admin/analytics/pageview/")
    return {
        "list": listing.status_code,
        "add_link": "/admin/analytics/pageview/add/" in listing.content.decode(),
        "delete_action": "delete_selected" in listing.content.decode(),
        "change_page": client.get(f"/admin/analytics/pageview/{view.pk}/change/").status_code,
        "save": client.post(f"/admin/analytics/pageview/{view.pk}/change/", {"path": "/x"}).status_code,
        "add": client.get("/admin/analytics/pageview/add/").status_code,
        "delete": client.post(f"/admin/analytics/pageview/{view.pk}/delete/", {"post": "yes"}).status_code,
        "post_add": client.get("/admin/blog/post/add/").status_code,
    }

out = {"guarded": visit()}
with override_settings(DJCFG_ENV={"READ_ONLY_GUARD": False}):
    out["plain"] = {"add": client.get("/admin/analytics/pageview/add/").status_code}
print("RESULT:" + json.dumps(out))
"""


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_a_model_on_a_read_only_alias_is_view_only_in_the_admin(databases: Seed) -> None:
    seed = databases
    seed.env.update(APPS)
    migrated = run(["python", "manage.py", "migrate_all", "--noinput", "-v", "0"], env=seed.env, cwd=CHECK_PROJECT)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    seed.execute("analytics", ANALYTICS_TABLE["sqlite"])
    seed.execute("analytics", "INSERT INTO analytics_pageview (path) VALUES ('/home')")
    result = run(["python", "manage.py", "shell", "-v", "0", "-c", CLIENT], env=seed.env, cwd=CHECK_PROJECT)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.split("RESULT:", 1)[1])
    guarded = out["guarded"]
    # Listed and viewable, but no add link, no delete action, and every write page refused.
    assert guarded["list"] == 200 and guarded["change_page"] == 200
    assert guarded["add_link"] is False and guarded["delete_action"] is False
    assert (guarded["save"], guarded["add"], guarded["delete"]) == (403, 403, 403)
    assert guarded["post_add"] == 200  # a model on a writable alias is untouched
    assert out["plain"]["add"] == 200  # READ_ONLY_GUARD off: Django's own permissions
    assert seed.rows("analytics", "SELECT path FROM analytics_pageview") == [("/home",)]
