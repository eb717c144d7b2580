"""djcfg-env: a Django project's whole multi-database setup from environment variables.

``import djcfg_env`` reads nothing; :func:`load` reads the mapping it is given,
and ``from djcfg_env.settings import *`` loads ``os.environ`` once for settings.py.
"""

from __future__ import annotations

from .config import Settings
from .errors import ConfigError
from .loader import load

__all__ = ["load", "ConfigError", "Settings", "__version__"]

__version__ = "0.1.0.dev0"
