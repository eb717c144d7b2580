"""``load()``: environment mapping in, :class:`Settings` out, every problem at once.

The data flows one way: discover (which variables are aliases and routes) ->
interpolate ``${VAR}`` -> parse each URL with dj-database-url -> validate the
reserved parameters and the basics through environs/marshmallow -> Settings.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import django
import marshmallow as ma
from environs import Env, EnvValidationError

from .config import Settings
from .errors import ConfigError
from .grammar import DEFAULT_URL_VARIABLE, URL_PREFIX, discover
from .schema import AliasName, ConnectionParameters, HostList, StrictBoolean
from .urls import UrlError, interpolate, is_postgresql, parse_url

__all__ = ["load", "DEBUG_SECRET_KEY"]

#: Used only when DEBUG is true and SECRET_KEY is not set.
DEBUG_SECRET_KEY = "django-insecure-djcfg-env-debug-only-never-in-production"

_PARAMETERS = ConnectionParameters()
_SUPPORTS_POOL = django.VERSION >= (5, 1)


class _MappingEnv(Env):
    """An environs ``Env`` that reads one mapping and nothing else (no files)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(eager=False)
        self._mapping = environ

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._mapping.get(env_key, default)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the whole database setup from ``environ`` (``os.environ`` if None).

    A pure function of the mapping: no file and no other variable is read.
    Raises :class:`ConfigError` listing every problem found.
    """
    if environ is None:
        environ = os.environ
    found = discover(environ)
    problems: dict[str, list[str]] = defaultdict(list, found.problems)
    env = _MappingEnv(environ)
    env.add_parser("database_url", functools.partial(_database_url, environ))
    env.add_parser_from_field("strict_bool", StrictBoolean)
    env.add_parser_from_field("host_list", HostList)
    env.add_parser_from_field("alias_name", AliasName)

    if DEFAULT_URL_VARIABLE not in environ:
        problems[DEFAULT_URL_VARIABLE].append(
            "is not set; set it to the URL of the default database, e.g. "
            "postgres://user:password@host:5432/name or sqlite:///db.sqlite3."
        )
    databases: dict[str, dict[str, Any]] = {}
    read_only: set[str] = set()
    for alias, variable in found.alias_variables.items():
        parsed = env.database_url(variable)
        if parsed is not None:
            config, is_read_only = parsed
            databases[alias] = config
            if is_read_only:
                read_only.add(alias)

    routes: dict[str, str] = {}
    defined = sorted(found.alias_variables)
    for label, variable in found.route_variables.items():
        alias = env.alias_name(variable)
        if alias is None:
            continue
        if alias not in found.alias_variables:
            problems[variable].append(
                f"routes app {label!r} to {alias!r}, which is not defined; defined "
                f"aliases: {', '.join(defined) or 'none'}. Define it with "
                f"{URL_PREFIX}{alias.upper()} or route to a defined alias."
            )
            continue
        routes[label] = alias

    debug = env.strict_bool("DEBUG", False)
    secret_key = env.str("SECRET_KEY", None)
    if secret_key is not None and not secret_key.strip():
        problems["SECRET_KEY"].append(
            "is empty; set it to a long random string, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    elif secret_key is None and not debug:
        problems["SECRET_KEY"].append(
            "is not set; set it to a long random string, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))' "
            "(or set DEBUG=true for local development)."
        )
    allowed_hosts = env.host_list("ALLOWED_HOSTS", [])

    try:
        env.seal()
    except EnvValidationError as error:
        for variable, messages in error.error_messages.items():
            problems[variable].extend(messages)
    if problems:
        raise ConfigError(problems) from None
    return Settings(
        databases=dict(sorted(databases.items(), key=lambda item: item[0] != "default")),
        routes=dict(sorted(routes.items())),
        read_only_aliases=frozenset(read_only),
        secret_key=secret_key or DEBUG_SECRET_KEY,
        debug=bool(debug),
        allowed_hosts=tuple(allowed_hosts or ()),
        sources=found.alias_variables,
    )


def _database_url(environ: Mapping[str, str], value: str) -> tuple[dict[str, Any], bool]:
    """environs parser for one ``DATABASE_URL*`` value; messages name no value."""
    try:
        url = interpolate(value, environ)
        config, reserved = _parse_cached(url)
    except UrlError as error:
        raise ma.ValidationError(str(error)) from None
    config = copy.deepcopy(config)
    return config, _apply_parameters(config, reserved)


@functools.lru_cache(maxsize=512)
def _parse_cached(url: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    return parse_url(url)


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
        if not _SUPPORTS_POOL:
            messages.append(
                f"parameter pool needs Django 5.1 or later (this is Django "
                f"{django.get_version()}); upgrade Django or remove pool."
            )
        elif not is_postgresql(config):
            messages.append("parameter pool works only with PostgreSQL; remove it.")
        elif importlib.util.find_spec("psycopg_pool") is None:
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
    read_only = bool(params.get("read_only"))
    if read_only and is_postgresql(config):
        flag = "-c default_transaction_read_only=on"
        existing = options.get("options")
        options["options"] = f"{existing} {flag}" if existing else flag
    return read_only
