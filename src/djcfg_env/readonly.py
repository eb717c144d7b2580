"""Kept for ``from djcfg_env.readonly import ReadOnlyDatabaseError``; see :mod:`djcfg_env.orm.readonly`."""

from .exceptions import ReadOnlyDatabaseError
from .orm.readonly import ensure_writable

__all__ = ["ReadOnlyDatabaseError", "ensure_writable"]
