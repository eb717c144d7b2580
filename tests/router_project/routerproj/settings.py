"""Settings of the router test project: everything about databases comes from the environment.

Modelled on the seed guide: auth/contenttypes on ``default``, ``blog`` on
``blog_db``, ``shop`` on ``shop_db``, ``analytics`` on a read-only alias.
``EXTRA_APPS`` (comma-separated) adds apps, used by tests/check_projects.
"""

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
USE_TZ = True
# Enough for django.contrib.admin when a check scenario adds it (EXTRA_APPS).
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
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
