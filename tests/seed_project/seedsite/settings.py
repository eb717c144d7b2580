"""The seed's settings.py: every database, route and read-only flag comes from the environment.

Run it with, for example::

    DATABASE_URL=postgres://.../main DATABASE_URL_BLOG_DB=postgres://.../blog
    DATABASE_URL_SHOP_DB=postgres://.../shop
    DATABASE_URL_ANALYTICS=postgres://.../analytics?read_only=true
    DB_ROUTE_BLOG=blog_db DB_ROUTE_SHOP=shop_db DB_ROUTE_ANALYTICS=analytics

``EXTRA_APPS`` (comma-separated app modules) adds apps after the seed's own:
tests/check_projects uses it to add the apps that make one system check fire,
and ``django.contrib.admin`` (which is why TEMPLATES and MIDDLEWARE are here).
"""

import json
import os

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "blog",
    "shop",
    "analytics",
    *[app for app in os.environ.get("EXTRA_APPS", "").split(",") if app],
]

# Test hooks, read only by the test suite's scenarios (a user's settings have none of these):
# SEED_DJCFG_ENV sets the DJCFG_ENV switches (JSON); SEED_MISTAKE makes one of the mistakes the
# checks and the router must catch.
if os.environ.get("SEED_DJCFG_ENV"):
    DJCFG_ENV = json.loads(os.environ["SEED_DJCFG_ENV"])
_mistake = os.environ.get("SEED_MISTAKE", "")
if _mistake == "databases-reassigned":
    DATABASES = {"default": DATABASES["default"]}  # noqa: F405
elif _mistake == "routers-reassigned":
    DATABASE_ROUTERS = []
elif _mistake == "without-djcfg-env-app":
    INSTALLED_APPS.remove("djcfg_env")
USE_TZ = True
ROOT_URLCONF = "seedsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Enough for django.contrib.admin's system checks when EXTRA_APPS adds it.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
