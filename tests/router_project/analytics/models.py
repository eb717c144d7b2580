from django.db import models


class Event(models.Model):
    """A table filled by another system; this project only reads it (read-only alias)."""

    name = models.CharField(max_length=100)
    user_id = models.IntegerField(null=True)

    class Meta:
        managed = False
        db_table = "analytics_event"
