"""A book lives on its own alias; its tags (tagging.TaggedItem) live on ``default``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="books",
    )
    # The reverse side of TaggedItem.content_object, across databases.
    tags = GenericRelation("tagging.TaggedItem")

    def __str__(self) -> str:
        return self.title
