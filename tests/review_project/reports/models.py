"""Reports on a read-only alias: filled by another system, so unmanaged."""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    name = models.CharField(max_length=100)
    total = models.IntegerField(default=0)

    class Meta:
        managed = False
        db_table = "reports_report"
