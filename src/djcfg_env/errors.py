"""Kept for ``from djcfg_env.errors import ConfigError``; see :mod:`djcfg_env.exceptions`."""

from .exceptions import ConfigError

__all__ = ["ConfigError"]
