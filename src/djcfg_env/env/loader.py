"""``load()``: environment mapping in, :class:`Settings` out, every problem at once.

The data flows one way: discover (which variables are aliases and routes) ->
interpolate ``${VAR}`` -> parse each URL with dj-database-url -> validate the
reserved parameters and the basics through environs/marshmallow -> Settings.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

import marshmallow as ma
from environs import Env, EnvValidationError

from .config import Settings
from .errors import ConfigError
from .grammar import DEFAULT_URL_VARIABLE, URL_PREFIX, discover
from .schema import AliasName, DatabaseUrl, HostList, StrictBoolean
from .urls import NOT_TEXT, UrlError, interpolate, is_text

__all__ = ["load", "DEBUG_SECRET_KEY"]

#: Used only when DEBUG is true and SECRET_KEY is not set.
DEBUG_SECRET_KEY = "django-insecure-djcfg-env-debug-only-never-in-production"

_DATABASE_URL = DatabaseUrl()
_ALIAS_NAME = AliasName()


class _MappingEnv(Env):
    """An environs ``Env`` that reads one mapping and nothing else (no files)."""

    def __init__(self, environ: Mapping[str, str], skip: frozenset[str] = frozenset()) -> None:
        super().__init__(eager=False)
        self._mapping = environ
        self._skip = skip

    def _get_value(self, env_key: str, default: Any) -> Any:
        if env_key in self._skip:  # already reported (not text)
            return default
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

    # Undecodable bytes (kept by Python as surrogates) reach no driver and break every encoder.
    unusable = {
        variable
        for variable in [*found.alias_variables.values(), *found.route_variables.values(),
                         "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"]
        if variable in environ and not is_text(environ[variable])
    }
    for variable in sorted(unusable):
        problems[variable].append(NOT_TEXT)
    if DEFAULT_URL_VARIABLE not in environ:
        problems[DEFAULT_URL_VARIABLE].append(
            "is not set; set it to the URL of the default database, e.g. "
            "postgres://user:password@host:5432/name or sqlite:///db.sqlite3."
        )
    databases: dict[str, Mapping[str, Any]] = {}
    read_only: set[str] = set()
    for alias, variable in found.alias_variables.items():
        if variable in unusable:
            continue
        try:
            config, is_read_only = _DATABASE_URL.deserialize(interpolate(environ[variable], environ))
        except UrlError as error:
            problems[variable].append(str(error))
            continue
        except ma.ValidationError as error:
            problems[variable].extend(_messages(error))
            continue
        databases[alias] = config
        if is_read_only:
            read_only.add(alias)

    routes: dict[str, str] = {}
    # 'default' always counts as defined: a missing DATABASE_URL is its own problem.
    defined = {"default", *found.alias_variables}
    for alias, config in databases.items():
        mirror = (config.get("TEST") or {}).get("MIRROR")
        if mirror is None:
            continue
        variable = found.alias_variables[alias]
        if mirror == alias:
            problems[variable].append(
                "parameter test_mirror names this alias itself; a database cannot mirror "
                "itself under test: name the alias it copies (e.g. default), or remove test_mirror."
            )
        elif mirror not in defined:
            problems[variable].append(
                f"parameter test_mirror names an alias that is not defined; set it to one of "
                f"the defined aliases ({', '.join(sorted(defined - {alias}))}), or remove it."
            )
    for label, variable in found.route_variables.items():
        if variable in unusable:
            continue
        try:
            alias = _ALIAS_NAME.deserialize(environ[variable])
        except ma.ValidationError as error:
            problems[variable].extend(_messages(error))
            continue
        if alias not in defined:
            # The value is not repeated: a mistyped route might hold anything.
            problems[variable].append(
                f"routes app {label!r} to an alias that is not defined; set it to one of "
                f"the defined aliases ({', '.join(sorted(defined))}), or define the alias "
                f"with {URL_PREFIX}<NAME>."
            )
            continue
        routes[label] = alias

    env = _MappingEnv(environ, frozenset(unusable))
    env.add_parser_from_field("strict_bool", StrictBoolean)
    env.add_parser_from_field("host_list", HostList)
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
        # Every field above was read by name, so environs reports {variable: [messages]}.
        by_variable = cast("Mapping[str, list[str]]", error.error_messages)
        for variable, messages in by_variable.items():
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
        route_variables={label: found.route_variables[label] for label in routes},
    )


def _messages(error: ma.ValidationError) -> list[str]:
    messages = error.messages
    return list(messages) if isinstance(messages, list) else [str(messages)]
