from django.conf import settings
from django.db import models


class Post(models.Model):
    # Cross-database: blog is on blog_db, the user model on default.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="blog_posts",
    )
    title = models.CharField(max_length=200)


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
