"""inventory: a small model routed to its own alias in the tests."""

from django.db import models


class StockLevel(models.Model):
    sku = models.CharField(max_length=40, unique=True)
    quantity = models.IntegerField(default=0)
