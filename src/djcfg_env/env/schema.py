"""marshmallow fields for every value djcfg-env reads.

Error messages say what is expected and never echo the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import django
import marshmallow as ma

from .config import freeze
from .urls import UrlError, is_postgresql, parse_url

__all__ = [
    "StrictBoolean",
    "ConnMaxAge",
    "HostList",
    "AliasName",
    "DatabaseUrl",
    "ConnectionParameters",
    "POSTGRES_READ_ONLY_OPTION",
    "MYSQL_READ_ONLY_COMMAND",
    "read_only_session",
    "without_read_only_session",
]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class StrictBoolean(ma.fields.Field):
    """``true``/``false``/``1``/``0``/``yes``/``no`` (any case), nothing else."""

    default_error_messages = {
        "invalid": "is not a boolean; write one of true, false, 1, 0, yes, no.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        raise self.make_error("invalid")


class ConnMaxAge(ma.fields.Field):
    """Seconds to keep a connection open: a whole number >= 0, or ``none``."""

    default_error_messages = {
        "invalid": "is not a number of seconds; write a whole number >= 0 (0 closes the "
        "connection after each request) or none for persistent connections.",
        "too_large": "is too large a number of seconds; write at most 18 digits, or none for "
        "persistent connections.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> int | None:
        text = str(value).strip()
        if text.lower() == "none":
            return None
        if text.isascii() and text.isdigit():
            if len(text.lstrip("0")) > 18:  # beyond any real timeout (and int()'s digit limit)
                raise self.make_error("too_large")
            return int(text)
        raise self.make_error("invalid")


_HOST = re.compile(r"(\*|\.?[A-Za-z0-9_\-.]+|\[[0-9A-Fa-f:.]+\])(:\d+)?\Z")


class HostList(ma.fields.Field):
    """A comma-separated list of host names, as Django's ALLOWED_HOSTS."""

    # Entries are named by position, never quoted: messages carry no values.
    default_error_messages = {
        "url": "entry {position} looks like a URL; list host names only, "
        "e.g. example.com,.example.org.",
        "invalid": "entry {position} is not a host name; list host names "
        "separated by commas, e.g. example.com,.example.org (or * for any).",
        "port": "entry {position} has a port, which Django never matches (it compares "
        "host names only); list the host name without the port, e.g. localhost.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> list[str]:
        hosts = [part.strip() for part in str(value).split(",")]
        hosts = [host for host in hosts if host]
        for position, host in enumerate(hosts, start=1):
            if "://" in host or "/" in host:
                raise self.make_error("url", position=position)
            match = _HOST.match(host)
            if not match:
                raise self.make_error("invalid", position=position)
            if match.group(2):
                raise self.make_error("port", position=position)
        return hosts


class AliasName(ma.fields.String):
    """The value of a ``DB_ROUTE_*`` variable: one alias name."""

    default_error_messages = {
        "empty": "is empty; set it to the alias the app's models live on "
        "(e.g. blog_db for DATABASE_URL_BLOG_DB), or unset it to keep the app on default.",
        "invalid": "is not an alias name; set it to the alias the app's models live on "
        "(e.g. blog_db for DATABASE_URL_BLOG_DB).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("empty")
        if not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", text):
            raise self.make_error("invalid")
        return text.lower()


class TestName(ma.fields.String):
    """``test_name``: the name of the test database (a file path on SQLite)."""

    default_error_messages = {
        "empty": "is empty; set it to the name of the test database, or remove it to let "
        "Django name it (test_<name>).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("empty")
        return text


class MirrorAlias(ma.fields.String):
    """``test_mirror``: the alias this alias mirrors under test (checked against the others by load())."""

    default_error_messages = {
        "invalid": "is not an alias name; set it to the alias this database mirrors under "
        "test (e.g. default), or remove it.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", text):
            raise self.make_error("invalid")
        return text.lower()


class ConnectionParameters(ma.Schema):
    """The reserved query parameters of one database URL."""

    conn_max_age = ConnMaxAge()
    conn_health_checks = StrictBoolean()
    atomic_requests = StrictBoolean()
    disable_server_side_cursors = StrictBoolean()
    pool = StrictBoolean()
    read_only = StrictBoolean()
    test_name = TestName()
    test_mirror = MirrorAlias()


_PARAMETERS = ConnectionParameters()
_SUPPORTS_POOL = django.VERSION >= (5, 1)
#: mysqlclient-based backends: OPTIONS["init_command"] runs on every new connection.
_MYSQL_BACKENDS = frozenset({"django.db.backends.mysql", "django.contrib.gis.db.backends.mysql"})


class DatabaseUrl(ma.fields.Field):
    """One (already interpolated) database URL -> (frozen connection settings, read-only?).

    Parsed with dj-database-url; the reserved query parameters are validated by
    :class:`ConnectionParameters` and applied. Results are cached per URL.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[Mapping[str, Any], bool]:
        try:
            return _resolve(str(value))
        except UrlError as error:
            raise ma.ValidationError(str(error)) from None


@functools.lru_cache(maxsize=1024)
def _resolve(url: str) -> tuple[Mapping[str, Any], bool]:
    config, reserved = parse_url(url)
    read_only = _apply_parameters(config, reserved)
    return freeze(config), read_only


#: What ``read_only=true`` adds to a PostgreSQL alias's ``OPTIONS["options"]``.
POSTGRES_READ_ONLY_OPTION = "-c default_transaction_read_only=on"
#: What ``read_only=true`` adds to a MySQL/MariaDB alias's ``OPTIONS["init_command"]``.
MYSQL_READ_ONLY_COMMAND = "SET SESSION TRANSACTION READ ONLY"


def read_only_session(options: Mapping[str, Any]) -> bool:
    """Whether ``OPTIONS`` make the session itself read-only (as ``read_only=true`` does)."""
    return POSTGRES_READ_ONLY_OPTION in str(options.get("options") or "") or (
        MYSQL_READ_ONLY_COMMAND in str(options.get("init_command") or "")
    )


def without_read_only_session(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``OPTIONS`` without what ``read_only=true`` added (for making test databases)."""
    stripped = dict(options)
    for key, flag, joint in (
        ("options", POSTGRES_READ_ONLY_OPTION, " "),
        ("init_command", MYSQL_READ_ONLY_COMMAND, "; "),
    ):
        value = stripped.get(key)
        if value == flag:
            del stripped[key]
        elif isinstance(value, str) and value.endswith(joint + flag):
            stripped[key] = value[: -len(joint + flag)]
    return stripped


def _has_psycopg_pool() -> bool:
    import importlib.util

    return importlib.util.find_spec("psycopg_pool") is not None


def _apply_parameters(config: dict[str, Any], reserved: Mapping[str, list[str]]) -> bool:
    """Validate the reserved query parameters and apply them to ``config``.

    Returns whether the alias is read-only. Raises ValidationError with one
    message per bad parameter, each naming the parameter.
    """
    config.update(
        CONN_MAX_AGE=0,
        CONN_HEALTH_CHECKS=False,
        ATOMIC_REQUESTS=False,
        DISABLE_SERVER_SIDE_CURSORS=False,
    )
    if not reserved:
        return False
    messages = [
        f"parameter {name} is given {len(values)} times; give it once."
        for name, values in reserved.items()
        if len(values) > 1
    ]
    try:
        params = _PARAMETERS.load({name: values[-1] for name, values in reserved.items()})
    except ma.ValidationError as error:
        for name, field_messages in error.messages.items():  # type: ignore[union-attr]
            messages.extend(f"parameter {name} {message}" for message in field_messages)
        params = {}
    options = config["OPTIONS"]
    if params.get("pool"):
        if not is_postgresql(config):
            messages.append("parameter pool works only with PostgreSQL; remove it.")
        elif not _SUPPORTS_POOL:
            messages.append(
                f"parameter pool needs Django 5.1 or later (this is Django "
                f"{django.get_version()}); upgrade Django or remove pool."
            )
        elif not _has_psycopg_pool():
            messages.append(
                "parameter pool needs the psycopg_pool package; "
                "pip install 'djcfg-env[postgres]'."
            )
        elif params.get("conn_max_age", 0) != 0:
            messages.append(
                "parameter pool cannot be combined with conn_max_age (persistent "
                "connections); remove conn_max_age or pool."
            )
    if messages:
        raise ma.ValidationError(messages)
    for name in ("conn_max_age", "conn_health_checks", "atomic_requests", "disable_server_side_cursors"):
        if name in params:
            config[name.upper()] = params[name]
    if params.get("pool"):
        options["pool"] = True
    test = {key: params[name] for name, key in (("test_name", "NAME"), ("test_mirror", "MIRROR")) if name in params}
    if test:
        config["TEST"] = test
    read_only = bool(params.get("read_only"))
    if read_only and is_postgresql(config):
        flag = POSTGRES_READ_ONLY_OPTION
        existing = options.get("options")
        options["options"] = f"{existing} {flag}" if existing else flag
    elif read_only and config.get("ENGINE") in _MYSQL_BACKENDS:
        # MySQL 5.6.5+ and MariaDB: the session refuses writes itself. After the
        # URL's own init_command, which still runs (mysqlclient allows several statements).
        flag = MYSQL_READ_ONLY_COMMAND
        existing = str(options.get("init_command") or "").strip().rstrip(";").rstrip()
        options["init_command"] = f"{existing}; {flag}" if existing else flag
    return read_only
