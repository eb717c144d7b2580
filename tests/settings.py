"""Settings for the in-process tests, built by djcfg-env itself from a fixed mapping."""

from djcfg_env import load

_settings = load(
    {
        "DATABASE_URL": "sqlite://",
        "SECRET_KEY": "tests-only-not-a-secret",
        "DEBUG": "false",
    }
)
globals().update(_settings.as_django_settings())

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
]
USE_TZ = True
