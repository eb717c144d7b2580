"""The ``djcfg_env`` Django app: add it to INSTALLED_APPS for checks, relations and migrate_all."""

from __future__ import annotations

from django.apps import AppConfig


class DjcfgEnvConfig(AppConfig):
    name = "djcfg_env"
    verbose_name = "djcfg-env"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from .readonly import install_from_settings
        from .relations import install

        install_from_settings()  # refuse writes to read-only aliases, even with using()
        install()
