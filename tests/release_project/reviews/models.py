"""reviews: a small model routed to its own alias in the tests."""

from django.db import models


class Review(models.Model):
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True)
