from django.db import models


class Note(models.Model):
    """djcfg_env.E001 when badfk and blog are on different aliases: no db_constraint=False."""

    post = models.ForeignKey("blog.Post", on_delete=models.CASCADE)
