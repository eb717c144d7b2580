from django.conf import settings
from django.db import models


class Shelf(models.Model):
    name = models.CharField(max_length=50)


class Note(models.Model):
    """Foreign keys as a third-party app writes them: no db_constraint=False anywhere."""

    post = models.ForeignKey("blog.Post", on_delete=models.CASCADE)  # to blog_db
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)  # to default
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)  # same database: constrained
