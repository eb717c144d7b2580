"""``manage.py dbshell --database <read-only alias>`` opens a read-only session.

Django's ``dbshell`` starts the database's command-line client with the
arguments and environment its backend's ``DatabaseClient.settings_to_cmd_args_env``
builds from the alias's settings. Those know nothing of ``read_only=true``: the
PostgreSQL session option (``OPTIONS["options"]``) and the MySQL/MariaDB
``init_command`` are not passed to ``psql``/``mysql``, and ``sqlite3`` opens
the file writable. While the read-only guard is on (part of the
``READ_ONLY_GUARD`` switch), for a read-only alias:

* PostgreSQL (``psql``): ``PGOPTIONS`` gets ``-c default_transaction_read_only=on``,
  after any ``PGOPTIONS`` already in the environment, so every transaction of
  the session is read-only (``cannot execute INSERT in a read-only transaction``);
* SQLite (``sqlite3``): ``-readonly``, the file is opened read-only
  (``attempt to write a readonly database``);
* MySQL/MariaDB (``mysql``): ``--init-command=SET SESSION TRANSACTION READ ONLY``
  (error 1792, ``Cannot execute statement in a READ ONLY transaction``).

This keeps a shell opened on a read-only alias from writing by accident; it
is not a permission. Whoever types in the shell can lift the session setting
again (``SET default_transaction_read_only = off``, ``SET SESSION TRANSACTION
READ WRITE``); a database role that may only read is what makes a database
read-only for real. ``sqlite3 -readonly`` cannot be lifted from inside.

``settings_to_cmd_args_env(settings_dict, parameters)`` is not told the alias:
a read-only alias is recognised by its settings dict, the very object Django
passes (``connections[alias].settings_dict``; two aliases may have equal ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..env.schema import MYSQL_READ_ONLY_COMMAND, POSTGRES_READ_ONLY_OPTION
from .switches import Patch

__all__ = ["PATCHES", "is_read_only"]

#: The ``sqlite3`` command-line option that opens the database read-only.
SQLITE_READ_ONLY_FLAG = "-readonly"
#: The ``mysql`` command-line option that makes the session read-only.
MYSQL_READ_ONLY_FLAG = f"--init-command={MYSQL_READ_ONLY_COMMAND}"


def is_read_only(settings_dict: Mapping[str, Any]) -> bool:
    """Whether ``settings_dict`` is the settings of an alias the read-only guard guards now."""
    from django.db import connections

    from .readonly import guarded_aliases

    return any(
        connections[alias].settings_dict is settings_dict
        for alias in guarded_aliases()
        if alias in connections.settings
    )


def _postgresql(args: list[str], env: dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    env = dict(env or {})
    existing = str(env.get("PGOPTIONS") or os.environ.get("PGOPTIONS") or "").strip()
    env["PGOPTIONS"] = f"{existing} {POSTGRES_READ_ONLY_OPTION}" if existing else POSTGRES_READ_ONLY_OPTION
    return args, env


def _sqlite(args: list[str], env: dict[str, str] | None) -> tuple[list[str], dict[str, str] | None]:
    return [args[0], SQLITE_READ_ONLY_FLAG, *args[1:]], env


def _mysql(args: list[str], env: dict[str, str] | None) -> tuple[list[str], dict[str, str] | None]:
    # --defaults-file / --no-defaults must stay the first option of mysql.
    at = 1
    while at < len(args) and args[at].startswith(
        ("--defaults-file=", "--defaults-extra-file=", "--no-defaults")
    ):
        at += 1
    return [*args[:at], MYSQL_READ_ONLY_FLAG, *args[at:]], env


class _ClassMethod(classmethod):  # type: ignore[type-arg]
    """A classmethod the switchboard can tag with ``__wrapped__`` (classmethod's own is read-only)."""

    __wrapped__: Any = None


def _read_only_client(
    change: Callable[[list[str], dict[str, str] | None], tuple[list[str], dict[str, str] | None]],
) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        function = original.__func__  # the classmethod's function: called with the class it is called on

        def settings_to_cmd_args_env(
            cls: type, settings_dict: Any, parameters: Any, *args: Any, **kwargs: Any
        ) -> Any:
            command, env = function(cls, settings_dict, parameters, *args, **kwargs)
            if is_read_only(settings_dict):
                return change(list(command), env)
            return command, env

        settings_to_cmd_args_env.__doc__ = function.__doc__
        settings_to_cmd_args_env.__wrapped__ = original  # type: ignore[attr-defined]  # bound: no cls
        return _ClassMethod(settings_to_cmd_args_env)

    return wrap


def _client(backend: str) -> Callable[[], type]:
    def owner() -> type:
        import importlib

        return importlib.import_module(f"django.db.backends.{backend}.client").DatabaseClient  # type: ignore[no-any-return]

    return owner


#: What READ_ONLY_GUARD replaces for dbshell (see :mod:`djcfg_env.orm.readonly`'s FEATURE).
PATCHES = tuple(
    Patch(
        _client(backend),
        "settings_to_cmd_args_env",
        _read_only_client(change),
        assumes=("settings_dict", "parameters"),
    )
    for backend, change in (("postgresql", _postgresql), ("sqlite3", _sqlite), ("mysql", _mysql))
)
