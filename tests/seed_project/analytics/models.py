"""The analytics app (routed to a read-only alias): tables filled by another system."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PageView(models.Model):
    path = models.CharField(max_length=200)
    # DO_NOTHING: deleting a user never touches the read-only analytics database.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="page_views",
    )

    class Meta:
        managed = False
        db_table = "analytics_pageview"
