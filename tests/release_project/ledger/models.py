"""ledger: a small model routed to its own alias in the tests."""

from django.db import models


class Entry(models.Model):
    amount_cents = models.BigIntegerField()
