from django.conf import settings
from django.db import models


class Post(models.Model):
    """Lives on blog_db (DB_ROUTE_BLOG); its author is a User on default."""

    title = models.CharField(max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,  # the user table is in another database
        related_name="blog_posts",
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
