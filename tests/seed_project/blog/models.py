"""The blog app (routed to ``blog_db``): posts by users who live in ``default``."""

from __future__ import annotations

from django.conf import settings
from django.db import models

#: Comments of a deleted user are kept and credited to this user id ("deleted user").
DELETED_USER_ID = 0


class Post(models.Model):
    title = models.CharField(max_length=200)
    # The seed's relation: blog_db -> default, no database constraint possible.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="blog_posts",
    )
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="edited_posts",
    )

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    # Same database: an ordinary foreign key with its constraint.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_DEFAULT,
        default=DELETED_USER_ID,
        db_constraint=False,
        related_name="blog_comments",
    )
    body = models.TextField()
