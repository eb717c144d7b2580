"""Settings of the switches benchmark's project (benchmarks/bench_switches.py): all from the environment.

``DATABASE_URL`` (auth, contenttypes, notes), ``DATABASE_URL_BLOG_DB`` (blog,
with ``DB_ROUTE_BLOG=blog_db``) and ``DATABASE_URL_REPLICA`` (``default``'s
database again, ``?read_only=true``: a read-only alias, so the READ_ONLY_GUARD
switch has something to guard and is really installed).
"""

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
    "notes",
    "blog",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
