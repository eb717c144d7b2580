"""Kept for ``from djcfg_env.relations import CrossDatabaseJoinError``; see :mod:`djcfg_env.exceptions`."""

from .exceptions import CrossDatabaseJoinError

__all__ = ["CrossDatabaseJoinError"]
