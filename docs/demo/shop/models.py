from django.db import models


class Product(models.Model):
    """Lives on shop_db (DB_ROUTE_SHOP)."""

    name = models.CharField(max_length=100, unique=True)
    price_cents = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.name
