"""Kept for ``from djcfg_env.join_guard import CrossDatabaseJoinError``; see :mod:`djcfg_env.orm.join_guard`."""

from .exceptions import CrossDatabaseJoinError

__all__ = ["CrossDatabaseJoinError"]
