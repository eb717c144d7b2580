"""marshmallow fields for every value djcfg-env reads.

Error messages say what is expected and never echo the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import django
import marshmallow as ma

from .config import freeze
from .urls import UrlError, is_postgresql, parse_url

__all__ = [
    "StrictBoolean",
    "ConnMaxAge",
    "Seconds",
    "ReplicaMaxLag",
    "ReplicaPinSeconds",
    "HostList",
    "AliasName",
    "DatabaseUrl",
    "ResolvedUrl",
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


#: A plain decimal number: digits, at most one decimal point (no sign, exponent or unit).
_DECIMAL = re.compile(r"(\d*)(?:\.(\d*))?\Z", re.ASCII)


class Seconds(ma.fields.Field):
    """A number of seconds: a plain decimal (``30``, ``2.5``), finite and not huge.

    ``positive`` refuses 0 as well. Messages never repeat the value; a subclass
    words them for its variable or parameter.
    """

    positive = False
    default_error_messages = {
        "invalid": "is not a number of seconds; write a number >= 0 (e.g. 15 or 2.5), "
        "without a sign, exponent or unit.",
        "zero": "is 0; write a number of seconds greater than 0.",
        "too_large": "is too large a number of seconds; write at most 18 digits before the decimal point.",
        "too_precise": "has more than 9 digits after the decimal point; write at most 9 (e.g. 2.5).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)  # a default given in code
            if not 0 <= seconds < 1e18:
                raise self.make_error("invalid")
        else:
            text = str(value).strip()
            match = _DECIMAL.match(text)
            if not match or not (match.group(1) or match.group(2)):
                raise self.make_error("invalid")
            whole, fraction = match.group(1), match.group(2) or ""
            if len(whole.lstrip("0")) > 18:  # beyond any real delay (thousands of digits too)
                raise self.make_error("too_large")
            if len(fraction) > 9:
                raise self.make_error("too_precise")
            seconds = float(text)
        if self.positive and seconds == 0:
            raise self.make_error("zero")
        return seconds


class ReplicaMaxLag(Seconds):
    """``replica_max_lag``: the replay lag, in seconds (> 0), above which reads leave a replica."""

    positive = True
    default_error_messages = {
        "invalid": "is not a number of seconds; write a number greater than 0 (e.g. 30 or "
        "2.5), without a sign, exponent or unit.",
        "zero": "is 0; write the replay lag in seconds above which reads leave this replica, "
        "greater than 0 (e.g. 30), or remove replica_max_lag to keep the replica in rotation "
        "whatever its lag.",
    }


class ReplicaPinSeconds(Seconds):
    """``DB_REPLICA_PIN_SECONDS``: how long a client's reads stay on the primary after it writes."""

    default_error_messages = {
        "invalid": "is not a number of seconds; write a number >= 0 (e.g. 15, the default, "
        "or 2.5; 0 turns off reading from the primary after a write), without a sign, "
        "exponent or unit.",
    }


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


class ReplicaOf(ma.fields.String):
    """``replica_of``: the primary alias this alias replicates (checked against the others by load())."""

    default_error_messages = {
        "invalid": "is not an alias name; set it to the alias of the primary database this "
        "one is a streaming replica of (e.g. default), or remove it.",
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
    replica_of = ReplicaOf()
    replica_max_lag = ReplicaMaxLag()


_PARAMETERS = ConnectionParameters()
_SUPPORTS_POOL = django.VERSION >= (5, 1)
#: mysqlclient-based backends: OPTIONS["init_command"] runs on every new connection.
_MYSQL_BACKENDS = frozenset({"django.db.backends.mysql", "django.contrib.gis.db.backends.mysql"})


class _Roles(NamedTuple):
    """What the reserved parameters say about an alias's role (besides its settings)."""

    read_only: bool = False
    #: ``replica_of``: the primary alias (not yet checked against the others), or None.
    replica_of: str | None = None
    #: ``replica_max_lag``, in seconds, or None.
    replica_max_lag: float | None = None


class ResolvedUrl(NamedTuple):
    """One URL resolved: the frozen connection settings and the alias's role."""

    config: Mapping[str, Any]
    #: ``read_only=true``, or ``replica_of`` (a replica is read-only).
    read_only: bool
    #: The primary alias ``replica_of`` names (checked against the others by load()), or None.
    replica_of: str | None = None
    #: ``replica_max_lag`` in seconds, or None.
    replica_max_lag: float | None = None


class DatabaseUrl(ma.fields.Field):
    """One (already interpolated) database URL -> :class:`ResolvedUrl`.

    Parsed with dj-database-url; the reserved query parameters are validated by
    :class:`ConnectionParameters` and applied. Results are cached per URL.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> ResolvedUrl:
        try:
            return _resolve(str(value))
        except UrlError as error:
            raise ma.ValidationError(str(error)) from None


@functools.lru_cache(maxsize=1024)
def _resolve(url: str) -> ResolvedUrl:
    config, reserved = parse_url(url)
    roles = _apply_parameters(config, reserved)
    return ResolvedUrl(freeze(config), roles.read_only, roles.replica_of, roles.replica_max_lag)


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


def _apply_parameters(config: dict[str, Any], reserved: Mapping[str, list[str]]) -> _Roles:
    """Validate the reserved query parameters and apply them to ``config``.

    Returns the alias's role: read-only (``read_only=true`` or ``replica_of``: a
    replica gets the same read-only session), the primary it replicates, its
    maximum lag. Raises ValidationError with one message per bad parameter, each
    naming the parameter.
    """
    config.update(
        CONN_MAX_AGE=0,
        CONN_HEALTH_CHECKS=False,
        ATOMIC_REQUESTS=False,
        DISABLE_SERVER_SIDE_CURSORS=False,
    )
    if not reserved:
        return _Roles()
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
    replica_of = params.get("replica_of")
    if replica_of is not None:
        if params.get("read_only") is False:
            messages.append(
                "parameter read_only=false contradicts replica_of: a streaming replica is "
                "read-only; remove read_only=false (replica_of makes the alias read-only)."
            )
        if params.get("test_mirror", replica_of) != replica_of:
            messages.append(
                "parameter test_mirror names another alias than replica_of; under test a "
                "replica mirrors its primary: remove test_mirror (replica_of sets it)."
            )
    elif "replica_max_lag" in reserved and "replica_of" not in reserved:
        messages.append(
            "parameter replica_max_lag is given without replica_of; it applies only to a "
            "replica: add replica_of=<primary alias>, or remove replica_max_lag."
        )
    if messages:
        raise ma.ValidationError(messages)
    for name in ("conn_max_age", "conn_health_checks", "atomic_requests", "disable_server_side_cursors"):
        if name in params:
            config[name.upper()] = params[name]
    if params.get("pool"):
        options["pool"] = True
    if replica_of is not None:
        params["test_mirror"] = replica_of  # under test a replica uses its primary's database
    test = {key: params[name] for name, key in (("test_name", "NAME"), ("test_mirror", "MIRROR")) if name in params}
    if test:
        config["TEST"] = test
    read_only = bool(params.get("read_only")) or replica_of is not None
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
    return _Roles(read_only, replica_of, params.get("replica_max_lag"))
