"""audit: a small model routed to its own alias in the tests."""

from django.db import models


class Event(models.Model):
    kind = models.CharField(max_length=40)
    at = models.DateTimeField(auto_now_add=True)
