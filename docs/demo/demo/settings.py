"""Demo settings: everything about databases comes from the environment (see example.env)."""

from djcfg_env.settings import *  # noqa: F403 - DATABASES, DATABASE_ROUTERS, SECRET_KEY, ...

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "demo",
    "blog",
    "shop",
    "analytics",
]
ROOT_URLCONF = "demo.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
