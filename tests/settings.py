"""Settings for the in-process tests, built by djcfg-env itself from a fixed mapping.

The seed project's layout (tests/seed_project), on in-memory SQLite databases:
``default`` (auth, contenttypes, tagging, admin, sessions), ``blog_db`` (blog),
``shop_db`` (shop, library), ``analytics`` (read-only; its unmanaged table is
made by tests/conftest.py's ``django_db_setup``) and ``replica``, a read-only
alias that mirrors ``default`` under test; ``blog_db_replica``, ``blog_db_replica_2``
and ``blog_db_replica_down`` mirror ``blog_db`` (tests/test_replicas.py). Tests name the aliases they use:
``pytest.mark.django_db(databases=[...])`` (see tests/conftest.py's ``SEED``).
"""

import sys
from pathlib import Path

from djcfg_env import load

#: The seed project's apps (blog, shop, analytics, tagging, library) are top-level packages there.
SEED_DIR = Path(__file__).resolve().parent / "seed_project"
if str(SEED_DIR) not in sys.path:
    sys.path.insert(0, str(SEED_DIR))

ENVIRONMENT = {
    "DATABASE_URL": "sqlite://:memory:",
    "DATABASE_URL_BLOG_DB": "sqlite://:memory:",
    "DATABASE_URL_SHOP_DB": "sqlite://:memory:",
    "DATABASE_URL_ANALYTICS": "sqlite://:memory:?read_only=true",
    "DATABASE_URL_REPLICA": "sqlite://:memory:?read_only=true&test_mirror=default",
    # Read replicas of blog_db for tests/test_replicas.py, which makes them replicas with
    # override_settings(DATABASE_REPLICAS=...) (elsewhere they are plain read-only mirrors,
    # so no other test's reads move): one that shares blog_db's test database, and one
    # whose server never answers (nothing listens on port 9).
    "DATABASE_URL_BLOG_DB_REPLICA": "sqlite://:memory:?read_only=true&test_mirror=blog_db",
    "DATABASE_URL_BLOG_DB_REPLICA_2": "sqlite://:memory:?read_only=true&test_mirror=blog_db",
    "DATABASE_URL_BLOG_DB_REPLICA_DOWN": (
        "postgres://reader:n0t-a-real-pw@127.0.0.1:9/blog_down?read_only=true&test_mirror=blog_db"
        "&connect_timeout=2"
    ),
    "DB_ROUTE_BLOG": "blog_db",
    "DB_ROUTE_SHOP": "shop_db",
    "DB_ROUTE_LIBRARY": "shop_db",
    "DB_ROUTE_ANALYTICS": "analytics",
    "SECRET_KEY": "tests-only-not-a-secret",
    "DEBUG": "false",
}
_settings = load(ENVIRONMENT)
globals().update(_settings.as_django_settings())

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "djcfg_env",
    "blog",
    "shop",
    "analytics",
    "tagging",
    "library",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "seedsite.urls"
# Fast hashing: the tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
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
