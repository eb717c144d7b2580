"""Kept for ``from djcfg_env.locks import POSTGRES_LOCK_KEY``; see :mod:`djcfg_env.release.locks`."""

from .release.locks import LOCK_NAME, POSTGRES_LOCK_KEY, LockTimeout

__all__ = ["LOCK_NAME", "POSTGRES_LOCK_KEY", "LockTimeout"]
