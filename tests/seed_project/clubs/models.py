"""Clubs (``DB_ROUTE_CLUBS=shop_db`` in tests/test_select_related.py): relation kinds across databases.

A club (on ``shop_db``) has a non-null owner (a user, on ``default``), an
optional featured comment (``blog_db``, whose post is a same-database hop on
the far side) and members: a many-to-many to users through a model that lives
here, next to the club. ``djcfg_env.E002`` reports that many-to-many (its
through table cannot be joined to ``auth_user``); the tests keep it on purpose,
to check what the join guard says about such a path.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Club(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="owned_clubs",
    )
    featured = models.ForeignKey(
        "blog.Comment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="featured_in",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="clubs")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="memberships",
    )
