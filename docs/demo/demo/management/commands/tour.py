"""``manage.py tour``: what djcfg-env resolved, and where each app's rows really went.

Creates a user, a post by that user and a product with plain ORM calls (no
``using()`` anywhere), then opens each SQLite file directly, without Django,
to show which database holds which table's rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import router
from django.utils import timezone

from djcfg_env.readonly import ReadOnlyDatabaseError

from analytics.models import Signup
from blog.models import Post
from shop.models import Product


class Command(BaseCommand):
    help = "Show the resolved databases and routes, write some rows, and show where they went."

    def handle(self, *args: Any, **options: Any) -> None:
        self.section("Databases resolved from the environment")
        for alias, config in settings.DATABASES.items():
            flag = " (read-only)" if alias in settings.READ_ONLY_DATABASES else ""
            self.stdout.write(f"  {alias:<10} {config['ENGINE'].rsplit('.', 1)[-1]:<11} {config['NAME']}{flag}")

        self.section("Where each app's models go (DB_ROUTE_* rules; others stay on default)")
        for app in ("auth", "blog", "shop", "analytics"):
            for model in apps.get_app_config(app).get_models():
                self.stdout.write(
                    f"  {model._meta.label:<20} read: {router.db_for_read(model):<10} "
                    f"write: {router.db_for_write(model)}"
                )

        self.section("Writing with plain ORM calls")
        ada, _ = User.objects.get_or_create(username="ada")
        post, _ = Post.objects.get_or_create(title="Hello from blog_db", author=ada)
        Product.objects.get_or_create(name="Notebook", defaults={"price_cents": 1200})
        self.stdout.write(f"  post.author.username      -> {post.author.username!r}")
        self.stdout.write(
            f"  ada.blog_posts.all()      -> {[p.title for p in ada.blog_posts.all()]}"
        )
        self.stdout.write(f"  Signup.objects.count()    -> {Signup.objects.count()} (read from analytics)")
        try:
            Signup.objects.create(username="mallory", date_joined=timezone.now())
        except ReadOnlyDatabaseError as error:
            self.stdout.write(f"  Signup.objects.create()   -> refused before any SQL:\n    {error}")

        self.section("Rows per table, read straight from each SQLite file")
        for alias, config in settings.DATABASES.items():
            if alias in settings.READ_ONLY_DATABASES:
                continue
            path = Path(config["NAME"])
            with sqlite3.connect(path) as db:
                tables = [
                    row[0]
                    for row in db.execute(
                        "SELECT name FROM sqlite_master WHERE type='table' AND name IN "
                        "('auth_user', 'blog_post', 'shop_product') ORDER BY name"
                    )
                ]
                counts = ", ".join(
                    f"{table}={db.execute(f'SELECT COUNT(*) FROM {table}').fetchone()[0]}"
                    for table in tables
                )
            self.stdout.write(f"  {alias:<10} {path.name:<16} {counts or '(no app tables)'}")

    def section(self, title: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(title))
