from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from taggit.managers import TaggableManager


class Post(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name='posts')
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    tags = TaggableManager(blank=True)

    def __str__(self):
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name='comments')
    body = models.TextField()

    def __str__(self):
        return self.body[:40]


class AuthorProxy(User):
    """The users who write posts, seen from the blog (a proxy: the rows stay in auth_user)."""

    class Meta:
        proxy = True
        verbose_name = 'author'

    def post_count(self):
        return self.posts.count()
