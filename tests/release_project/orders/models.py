"""orders: a small model routed to its own alias in the tests."""

from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True)
