"""``AppDatabaseRouter``: each app's models on the alias its ``DB_ROUTE_*`` names.

Decisions come from ``settings.DATABASE_ROUTING_RULES`` (app label -> alias) and
``settings.READ_ONLY_DATABASES``, read once when the router is created.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model

__all__ = ["AppDatabaseRouter"]


class AppDatabaseRouter:
    def __init__(self) -> None:
        self.rules: dict[str, str] = dict(getattr(settings, "DATABASE_ROUTING_RULES", {}))
        self.read_only: frozenset[str] = frozenset(getattr(settings, "READ_ONLY_DATABASES", ()))
        self.aliases: frozenset[str] = frozenset(settings.DATABASES)

    def _alias(self, model: type[Model]) -> str:
        return self.rules.get(model._meta.app_label, "default")

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self._alias(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self._alias(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return obj1._state.db in self.aliases and obj2._state.db in self.aliases

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if db in self.read_only:
            return False
        return self.rules.get(app_label, "default") == db
