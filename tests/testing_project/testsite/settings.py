"""A project as a user writes it: every database from the environment, its tests on the same variables.

DATABASE_URL (auth, contenttypes), DATABASE_URL_NOTES_DB (the notes app, DB_ROUTE_NOTES=notes_db),
DATABASE_URL_WAREHOUSE (read_only=true: the reports app, DB_ROUTE_REPORTS=warehouse, whose
table another system fills) and DATABASE_URL_REPLICA (read_only=true, test_mirror=default).
"""

import json
import os

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "notes",
    "reports",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The test suite's own switches: "a migration fails while the test databases are made", and
# djcfg-env's DJCFG_ENV (JSON), to show Django's behaviour with a feature off.
FAIL_NOTES_MIGRATION = os.environ.get("FAIL_NOTES_MIGRATION") == "1"
if os.environ.get("PROJECT_DJCFG_ENV"):
    DJCFG_ENV = json.loads(os.environ["PROJECT_DJCFG_ENV"])
