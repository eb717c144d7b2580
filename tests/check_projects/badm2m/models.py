from django.db import models


class Tag(models.Model):
    """djcfg_env.E002 when badm2m and blog are on different aliases."""

    posts = models.ManyToManyField("blog.Post")
