"""Test data for the seed project: one user's rows spread over three databases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from blog.models import Comment, Post
from django.contrib.auth.models import User
from shop.models import Customer, Order, Promotion, Wishlist


def make_world(name: str, *, order: bool = False) -> dict[str, Any]:
    """A user (default) with 2 posts and 3 comments (blog_db), a customer, a wishlist
    and a promotion of the first post (shop_db); with ``order=True`` also an Order,
    which PROTECTs the user. Returns the primary keys, by kind.
    """
    user = User.objects.create_user(name, f"{name}@example.com")  # no password: hashing is slow
    first = Post.objects.create(title=f"{name} first", author=user)
    second = Post.objects.create(title=f"{name} second", author=user)
    comments = [
        Comment.objects.create(post=first, author=user, body="one"),
        Comment.objects.create(post=first, author=user, body="two"),
        Comment.objects.create(post=second, author=user, body="three"),
    ]
    customer = Customer.objects.create(user=user)
    wishlist = Wishlist.objects.create(customer=customer, owner=user, name="gifts")
    promotion = Promotion.objects.create(post=first, code=f"{name}-10")
    ids: dict[str, Any] = {
        "user": user.pk,
        "posts": [first.pk, second.pk],
        "comments": [comment.pk for comment in comments],
        "customer": customer.pk,
        "wishlist": wishlist.pk,
        "promotion": promotion.pk,
    }
    if order:
        ids["order"] = Order.objects.create(placed_by=user, total=Decimal("9.90")).pk
    return ids
