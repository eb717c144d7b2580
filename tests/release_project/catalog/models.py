"""catalog: a small model routed to its own alias in the tests."""

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=40, default="", blank=True)
