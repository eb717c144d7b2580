"""The seed's settings.py: every database, route and read-only flag comes from the environment.

Run it with, for example::

    DATABASE_URL=postgres://.../main DATABASE_URL_BLOG_DB=postgres://.../blog
    DATABASE_URL_SHOP_DB=postgres://.../shop
    DATABASE_URL_ANALYTICS=postgres://.../analytics?read_only=true
    DB_ROUTE_BLOG=blog_db DB_ROUTE_SHOP=shop_db DB_ROUTE_ANALYTICS=analytics
"""

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "blog",
    "shop",
    "analytics",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
