"""No database constraint for a foreign key to a table in another database (``CROSS_DATABASE_FOREIGN_KEYS``).

A database cannot enforce a foreign key to a table it does not have: migrating
``blog_db`` with ``Post.author = ForeignKey(User)`` fails with
``relation "auth_user" does not exist``, and a third-party app's migrations
(django-reversion's ``Revision.user``, django-taggit's
``TaggedItem.content_type``) cannot be edited to say ``db_constraint=False``.

While this feature is on, a ``ForeignKey``/``OneToOneField`` (an M2M through
table's included) whose target model lives on another alias than the one a
schema editor is migrating reads ``db_constraint`` as ``False`` inside that
schema editor, in every migration, yours and third-party ones alike, through
``migrate_all`` and plain ``migrate``. So no constraint is created, and MySQL
creates the index the constraint would have brought. Everywhere else
(``makemigrations``, ``deconstruct()``, checks, queries) the field reads what it
was given, so no migration changes. Foreign keys within one database keep
their constraints.

Replaced: ``ForeignKey.db_constraint`` becomes a data descriptor (the value is
still stored on the field), and ``BaseDatabaseSchemaEditor.__enter__`` /
``__exit__`` note which alias is being migrated (a context variable).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import ForeignKey

from .placement import placement
from .switches import Feature, Patch

__all__ = ["FEATURE", "migrating_alias"]

#: The alias a schema editor is migrating right now (None outside one).
_editing: contextvars.ContextVar[str | None] = contextvars.ContextVar("djcfg_env_editing", default=None)
_TOKEN = "_djcfg_env_editing_token"


def migrating_alias() -> str | None:
    """The alias the schema editor in use is migrating, or None."""
    return _editing.get()


def _crosses(field: Any, alias: str) -> bool:
    """Whether ``field``'s target model lives on another alias than ``alias``."""
    target = getattr(field.remote_field, "model", None)
    if not isinstance(target, type):
        return False  # not resolved yet: nothing is created from it
    return placement().model_alias(target) != alias


class _DbConstraint:
    """``ForeignKey.db_constraint``: False inside a schema editor of an alias the target is not on."""

    def __get__(self, field: Any, owner: type | None = None) -> Any:
        if field is None:
            return self
        value = field.__dict__.get("db_constraint", True)
        if value:
            alias = _editing.get()
            if alias is not None and _crosses(field, alias):
                return False
        return value

    def __set__(self, field: Any, value: Any) -> None:
        field.__dict__["db_constraint"] = value


def _descriptor(original: Any) -> Any:
    return _DbConstraint()


def _enter(original: Callable[..., Any]) -> Callable[..., Any]:
    def __enter__(self: BaseDatabaseSchemaEditor, *args: Any, **kwargs: Any) -> Any:
        self.__dict__[_TOKEN] = _editing.set(self.connection.alias)
        try:
            return original(self, *args, **kwargs)
        except BaseException:
            _editing.reset(self.__dict__.pop(_TOKEN))
            raise

    return __enter__


def _exit(original: Callable[..., Any]) -> Callable[..., Any]:
    def __exit__(self: BaseDatabaseSchemaEditor, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)  # runs the deferred SQL: still this alias
        finally:
            token = self.__dict__.pop(_TOKEN, None)
            if token is not None:
                _editing.reset(token)

    return __exit__


def _foreign_key() -> type:
    return ForeignKey


def _schema_editor() -> type:
    return BaseDatabaseSchemaEditor


FEATURE = Feature(
    key="CROSS_DATABASE_FOREIGN_KEYS",
    summary="Create no database constraint for a foreign key whose target lives on another alias.",
    patches=(
        Patch(_foreign_key, "db_constraint", _descriptor),
        Patch(_schema_editor, "__enter__", _enter),
        Patch(_schema_editor, "__exit__", _exit),
    ),
    needed=lambda: placement().routed,
)
