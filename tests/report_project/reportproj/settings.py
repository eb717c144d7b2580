"""settings.py as a user writes it; the error page, error mails and their filter come with the star import."""

import os

from djcfg_env.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djcfg_env",
]
ROOT_URLCONF = "reportproj.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ADMINS = [("Ops", "ops@example.com")]
SERVER_EMAIL = "django@example.com"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# A project may still choose its own filter after the star import (the suite checks it does).
if os.environ.get("PROJECT_EXCEPTION_REPORTER_FILTER"):
    DEFAULT_EXCEPTION_REPORTER_FILTER = os.environ["PROJECT_EXCEPTION_REPORTER_FILTER"]
