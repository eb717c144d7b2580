"""The module ``settings.py`` imports: ``from djcfg_env.settings import *``.

Importing it runs :func:`djcfg_env.load` on ``os.environ`` once and publishes the
upper-case Django settings below. A bad environment raises
:class:`djcfg_env.ConfigError` here, listing every problem. Should the
process then end on an uncaught exception (``manage.py`` goes on after a
failed settings import, and may stop on something else), that problem list is
what it prints last. Under ``migrate_all`` the process ends at once instead, with
the problem list and exit code 2 ("nothing was attempted").
"""

from __future__ import annotations

import sys as _sys
import traceback as _traceback
from typing import Any

from djcfg_env import load as _load
from djcfg_env.env.errors import ConfigError as _ConfigError
from djcfg_env.env.errors import report_if_fatal as _report_if_fatal


def _exits_2_on_a_bad_environment() -> bool:
    """Whether this process runs ``migrate_all`` (``manage.py``, ``django-admin``, ``python -m django``)."""
    return _sys.argv[1:2] == ["migrate_all"]


try:
    _settings = _load()
except _ConfigError as _error:
    if _exits_2_on_a_bad_environment():
        # migrate_all: "nothing was attempted" is exit 2; the problem list, no traceback.
        _sys.stderr.write("".join(_traceback.format_exception_only(type(_error), _error)))
        raise SystemExit(2) from None
    # manage.py swallows this and goes on; see errors.report_if_fatal.
    _report_if_fatal(_error)
    raise
_report_if_fatal(None)

DATABASES: dict[str, dict[str, Any]] = _settings.DATABASES
DATABASE_ROUTERS: list[str] = _settings.DATABASE_ROUTERS
DATABASE_ROUTING_RULES: dict[str, str] = _settings.DATABASE_ROUTING_RULES
READ_ONLY_DATABASES: frozenset[str] = _settings.READ_ONLY_DATABASES
SECRET_KEY: str = _settings.SECRET_KEY
DEBUG: bool = _settings.DEBUG
ALLOWED_HOSTS: list[str] = _settings.ALLOWED_HOSTS

__all__ = list(_settings.SETTING_NAMES)
