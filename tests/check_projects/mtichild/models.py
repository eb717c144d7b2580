from blog.models import Post
from django.db import models


class FeaturedPost(Post):
    """djcfg_env.E007 when mtichild and blog are on different aliases: one row, two tables."""

    note = models.CharField(max_length=100)
