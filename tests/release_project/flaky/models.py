"""flaky: a small model routed to its own alias in the tests."""

from django.db import models


class Marker(models.Model):
    label = models.CharField(max_length=40)
    note = models.TextField(blank=True, default="")
