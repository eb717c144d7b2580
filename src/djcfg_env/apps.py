"""The ``djcfg_env`` Django app: add it to INSTALLED_APPS for checks, relations and migrate_all.

``ready()`` is the one place djcfg-env changes Django's behaviour: it installs
the features the ``DJCFG_ENV`` switches allow (:mod:`djcfg_env.orm.switches`),
and re-reads the switches, the routes, the read-only aliases and the replicas
whenever a test overrides one of them (``setting_changed``).
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

#: Settings whose change re-applies the switches (placement watches the rest).
_SWITCH_SETTINGS = frozenset({"DJCFG_ENV"})


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    from .orm import placement, switches

    forgotten = placement.reset(setting=setting)
    if forgotten or setting in _SWITCH_SETTINGS:
        switches.apply()


class DjcfgEnvConfig(AppConfig):
    name = "djcfg_env"
    verbose_name = "djcfg-env"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from .orm import placement, switches

        placement.reset()
        switches.apply()
        setting_changed.connect(_settings_changed, dispatch_uid="djcfg_env.settings_changed")
