"""The routing facts as Django's settings hold them, read the same way everywhere.

``from djcfg_env.settings import *`` publishes ``DATABASE_ROUTING_RULES`` and
``READ_ONLY_DATABASES``; the router, the checks, the join guard, the read-only
guard and ``migrate_all`` all read them through these two functions.
"""

from __future__ import annotations

from django.conf import settings

__all__ = ["routing_rules", "read_only_aliases"]


def routing_rules() -> dict[str, str]:
    """``settings.DATABASE_ROUTING_RULES`` (app label -> alias), labels lower-cased.

    Routes compare app labels case-insensitively (``DB_ROUTE_<APP_LABEL>``), so
    look a label up with ``label.lower()``.
    """
    rules = getattr(settings, "DATABASE_ROUTING_RULES", None) or {}
    return {label.lower(): alias for label, alias in dict(rules).items()}


def read_only_aliases() -> frozenset[str]:
    """``settings.READ_ONLY_DATABASES``: the aliases with ``read_only=true``."""
    return frozenset(getattr(settings, "READ_ONLY_DATABASES", None) or ())
