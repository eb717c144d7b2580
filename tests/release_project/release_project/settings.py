"""Settings of the migrate_all test project: every database comes from the environment.

Apps and the aliases the tests route them to (DB_ROUTE_<APP>=<alias>):
catalog, orders, ledger, inventory, reviews, audit and flaky (whose 0002 migration
can be made slow or failing, see flaky/migrations/0002_release_step.py).
"""

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "catalog",
    "orders",
    "ledger",
    "inventory",
    "reviews",
    "audit",
    "flaky",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
