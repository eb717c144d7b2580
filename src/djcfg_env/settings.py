"""The module ``settings.py`` imports: ``from djcfg_env.settings import *``.

Importing it runs :func:`djcfg_env.load` on ``os.environ`` once and publishes the
upper-case Django settings below. A bad environment raises
:class:`djcfg_env.ConfigError` here, listing every problem. Should the
process then end on an uncaught exception (``manage.py`` goes on after a
failed settings import, and may stop on something else), that problem list is
what it prints last. Under ``migrate_all`` the process ends at once instead, with
the problem list and exit code 2 ("nothing was attempted"); under gunicorn too,
with the problem list printed once and gunicorn's "App failed to load" code 4.

It also sets ``DEFAULT_EXCEPTION_REPORTER_FILTER`` and ``DEFAULT_EXCEPTION_REPORTER``
(:mod:`djcfg_env.reporting`), so Django's error page and error mails show no secret.
"""

from __future__ import annotations

import sys as _sys
import traceback as _traceback
from typing import Any

from djcfg_env import load as _load
from djcfg_env.env.errors import ConfigError as _ConfigError
from djcfg_env.env.errors import report_if_fatal as _report_if_fatal
from djcfg_env.env.errors import server_exit_code as _server_exit_code


def _exits_2_on_a_bad_environment() -> bool:
    """Whether this process runs ``migrate_all`` (``manage.py``, ``django-admin``, ``python -m django``)."""
    return _sys.argv[1:2] == ["migrate_all"]


try:
    _settings = _load()
except _ConfigError as _error:
    # migrate_all: "nothing was attempted" is exit 2; gunicorn would print the list twice.
    _exit_code = 2 if _exits_2_on_a_bad_environment() else _server_exit_code()
    if _exit_code is not None:
        # The problem list, no traceback.
        _sys.stderr.write("".join(_traceback.format_exception_only(type(_error), _error)))
        raise SystemExit(_exit_code) from None
    # manage.py swallows this and goes on; see errors.report_if_fatal.
    _report_if_fatal(_error)
    raise
_report_if_fatal(None)

DATABASES: dict[str, dict[str, Any]] = _settings.DATABASES
DATABASE_ROUTERS: list[str] = _settings.DATABASE_ROUTERS
DATABASE_ROUTING_RULES: dict[str, str] = _settings.DATABASE_ROUTING_RULES
READ_ONLY_DATABASES: frozenset[str] = _settings.READ_ONLY_DATABASES
DATABASE_REPLICAS: dict[str, list[str]] = _settings.DATABASE_REPLICAS
DATABASE_REPLICA_MAX_LAG: dict[str, float] = _settings.DATABASE_REPLICA_MAX_LAG
DB_REPLICA_PIN_SECONDS: float = _settings.DB_REPLICA_PIN_SECONDS
SECRET_KEY: str = _settings.SECRET_KEY
DEBUG: bool = _settings.DEBUG
ALLOWED_HOSTS: list[str] = _settings.ALLOWED_HOSTS
DEFAULT_EXCEPTION_REPORTER_FILTER: str = _settings.DEFAULT_EXCEPTION_REPORTER_FILTER
DEFAULT_EXCEPTION_REPORTER: str = _settings.DEFAULT_EXCEPTION_REPORTER

__all__ = list(_settings.SETTING_NAMES)
