"""The shop app (routed to ``shop_db``): customers, orders, wishlists, promotions of blog posts."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Customer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="customer",
    )
    loyalty_points = models.IntegerField(default=0)


class Order(models.Model):
    # Orders are kept for the accounts: a user who placed one cannot be deleted.
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="orders",
    )
    total = models.DecimalField(max_digits=10, decimal_places=2)


class Wishlist(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wishlists")
    # RESTRICT: deleting the owner is refused unless the wishlist goes too,
    # through its customer (CASCADE from the same user).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.RESTRICT,
        db_constraint=False,
        related_name="wishlists",
    )
    name = models.CharField(max_length=100)


class Promotion(models.Model):
    # shop_db -> blog_db: deleting a user cascades to its posts, then to their promotions.
    post = models.ForeignKey(
        "blog.Post", on_delete=models.CASCADE, db_constraint=False, related_name="promotions"
    )
    code = models.CharField(max_length=50)
