"""The seed guide's shell walkthrough, end to end, on real PostgreSQL databases and SQLite files.

django-cfg's "Multi-Database Setup" walks through ``manage.py shell``: create a
user (default), create a post with the user as author (blog_db), read
``post.author.username`` and ``user.blog_posts.all()``, then ``user.delete()``,
which cascades to the posts. Here each step runs in ``manage.py shell -c`` of
the seed project, and after each step the rows are read from every database
directly.
"""

from __future__ import annotations

import pytest

from tests.conftest import BACKENDS
from tests.seed_project.harness import Seed

PASSWORD = "Walkthrough-Pw-9f3K!"


@pytest.mark.parametrize("seed", BACKENDS, indirect=True)
def test_seed_shell_walkthrough(seed: Seed) -> None:
    # The databases are shared with other end-to-end tests: only john's rows are looked at.
    # migrate --database <alias> made each app's tables on its own database only.
    assert {"auth_user", "django_content_type"} <= seed.tables("default")
    assert seed.tables("blog_db") & {"blog_post", "blog_comment", "auth_user", "shop_order"} == {
        "blog_post", "blog_comment"
    }
    assert seed.tables("shop_db") & {"blog_post", "auth_user", "shop_order"} == {"shop_order"}
    assert "blog_post" not in seed.tables("default")

    # >>> user = User.objects.create_user('john', 'john@example.com', 'password')
    # >>> post = Post.objects.create(title='Hello World', author=user)
    # >>> post.author.username
    # >>> user.blog_posts.all()
    created = seed.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "from blog.models import Post\n"
        f"user = User.objects.create_user('john', 'john@example.com', {PASSWORD!r})\n"
        "post = Post.objects.create(title='Hello World', author=user)\n"
        "print(repr(post.author.username))\n"
        "print(user.blog_posts.all())\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-2:] == ["'john'", "<QuerySet [<Post: Hello World>]>"]
    assert PASSWORD not in created.stdout + created.stderr

    users = seed.rows("default", "SELECT id, username, password FROM auth_user WHERE username = 'john'")
    assert len(users) == 1
    user_id, _, stored = users[0]
    assert stored != PASSWORD and stored.startswith("pbkdf2_sha256$")  # hashed, never stored as given
    assert seed.rows("blog_db", "SELECT title, author_id FROM blog_post WHERE author_id = %s", [user_id]) == [
        ("Hello World", user_id)
    ]

    # A fresh shell: nothing cached, every read goes to its database.
    # >>> user.delete()
    deleted = seed.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "from blog.models import Post\n"
        "user = User.objects.get(username='john')\n"
        "print(repr(Post.objects.get(title='Hello World').author.username))\n"
        "print(user.blog_posts.all())\n"
        "print(user.delete())\n",
    )
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.splitlines()[-3:] == [
        "'john'",
        "<QuerySet [<Post: Hello World>]>",
        "(2, {'blog.Post': 1, 'auth.User': 1})",
    ]
    assert seed.rows("default", "SELECT id FROM auth_user WHERE username = 'john'") == []
    assert seed.rows("blog_db", "SELECT id FROM blog_post WHERE author_id = %s", [user_id]) == []
