"""marshmallow fields for every value djcfg-env reads.

Error messages say what is expected and never echo the value.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

__all__ = [
    "StrictBoolean",
    "ConnMaxAge",
    "HostList",
    "AliasName",
    "ConnectionParameters",
]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class StrictBoolean(ma.fields.Field):
    """``true``/``false``/``1``/``0``/``yes``/``no`` (any case), nothing else."""

    default_error_messages = {
        "invalid": "must be one of true, false, 1, 0, yes, no.",
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
        "invalid": "must be a whole number of seconds (0 closes connections after each "
        "request) or 'none' for persistent connections.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> int | None:
        text = str(value).strip()
        if text.lower() == "none":
            return None
        if text.isascii() and text.isdigit():
            return int(text)
        raise self.make_error("invalid")


_HOST = re.compile(r"(\*|\.?[A-Za-z0-9_\-.]+|\[[0-9A-Fa-f:.]+\])(:\d+)?\Z")


class HostList(ma.fields.Field):
    """A comma-separated list of host names, as Django's ALLOWED_HOSTS."""

    default_error_messages = {
        "url": "lists {host!r}, which looks like a URL; list host names only, "
        "e.g. example.com,.example.org.",
        "invalid": "lists {host!r}, which is not a host name; list host names "
        "separated by commas, e.g. example.com,.example.org (or * for any).",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> list[str]:
        hosts = [part.strip() for part in str(value).split(",")]
        hosts = [host for host in hosts if host]
        for host in hosts:
            if "://" in host or "/" in host:
                raise self.make_error("url", host=host)
            if not _HOST.match(host):
                raise self.make_error("invalid", host=host)
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


class ConnectionParameters(ma.Schema):
    """The reserved query parameters of one database URL."""

    conn_max_age = ConnMaxAge()
    conn_health_checks = StrictBoolean()
    atomic_requests = StrictBoolean()
    disable_server_side_cursors = StrictBoolean()
    pool = StrictBoolean()
    read_only = StrictBoolean()
