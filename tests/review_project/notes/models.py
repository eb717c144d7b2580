"""Notes (routed to their own alias), written by users who live on ``default``."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)
    hits = models.IntegerField(default=0)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="notes",
    )
