"""The blog app (``DB_ROUTE_BLOG=blog_db``): posts by users who live in ``default``."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Post(models.Model):
    # blog_db -> default: no database constraint possible; deleting a user deletes its posts.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_constraint=False, related_name="blog_posts"
    )
    title = models.CharField(max_length=200)


class Comment(models.Model):
    # Same database: an ordinary foreign key, with its constraint.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    body = models.CharField(max_length=200)
