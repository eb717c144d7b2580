"""Settings of the review test project: everything comes from the environment.

Apps: ``notes`` (routed with DB_ROUTE_NOTES, a ForeignKey to auth.User with
db_constraint=False) and ``reports`` (routed to a read-only alias; unmanaged,
its table is made by the tests). ``REVIEW_EXTRA_APPS`` (comma-separated) adds
apps, for tests that need an app with a failing migration.
"""

import os

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "notes",
    "reports",
    *[app for app in os.environ.get("REVIEW_EXTRA_APPS", "").split(",") if app],
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
