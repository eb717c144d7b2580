"""djcfg-env: a Django project's whole multi-database setup from environment variables.

``import djcfg_env`` reads nothing; :func:`load` reads the mapping it is given,
and ``from djcfg_env.settings import *`` loads ``os.environ`` once for settings.py.

The package has three parts: :mod:`djcfg_env.env` (configuration, pure),
:mod:`djcfg_env.orm` (the run time, behind the ``DJCFG_ENV`` switches) and
:mod:`djcfg_env.release` (``migrate_all``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .env.config import Settings
from .env.errors import ConfigError
from .env.loader import load

if TYPE_CHECKING:
    from .exceptions import CrossDatabaseJoinError, ReadOnlyDatabaseError
    from .orm.readonly import allow_writes
    from .orm.replicas import use_primary

__all__ = [
    "load",
    "Settings",
    "ConfigError",
    "ReadOnlyDatabaseError",
    "CrossDatabaseJoinError",
    "allow_writes",
    "use_primary",
    "__version__",
]

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    # The ORM exceptions import django.db; load() and Settings must not need it.
    if name in ("ReadOnlyDatabaseError", "CrossDatabaseJoinError"):
        from . import exceptions

        return getattr(exceptions, name)
    if name == "allow_writes":
        from .orm.readonly import allow_writes

        return allow_writes
    if name == "use_primary":
        from .orm.replicas import use_primary

        return use_primary
    raise AttributeError(f"module 'djcfg_env' has no attribute {name!r}")
