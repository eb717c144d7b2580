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

from .config import DEFAULT_REPLICA_PIN_SECONDS, Settings
from .errors import ConfigError
from .grammar import DEFAULT_ALIAS, DEFAULT_URL_VARIABLE, URL_PREFIX, discover
from .schema import AliasName, DatabaseUrl, HostList, ReplicaPinSeconds, StrictBoolean
from .urls import NOT_TEXT, UrlError, _close_matches, interpolate, is_text

__all__ = ["load", "DEBUG_SECRET_KEY", "REPLICA_PIN_VARIABLE"]

#: How long a client's reads of a primary stay on it after the client writes there.
REPLICA_PIN_VARIABLE = "DB_REPLICA_PIN_SECONDS"

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
        for variable in [
            *found.alias_variables.values(),
            *found.route_variables.values(),
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            REPLICA_PIN_VARIABLE,
        ]
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
    #: replica alias -> the primary its replica_of names (checked below).
    replica_of: dict[str, str] = {}
    replica_max_lag: dict[str, float] = {}
    for alias, variable in found.alias_variables.items():
        if variable in unusable:
            continue
        try:
            resolved = _DATABASE_URL.deserialize(interpolate(environ[variable], environ))
        except UrlError as error:
            problems[variable].append(str(error))
            continue
        except ma.ValidationError as error:
            problems[variable].extend(_messages(error))
            continue
        databases[alias] = resolved.config
        if resolved.read_only:
            read_only.add(alias)
        if resolved.replica_of is not None:
            replica_of[alias] = resolved.replica_of
            if resolved.replica_max_lag is not None:
                replica_max_lag[alias] = resolved.replica_max_lag

    routes: dict[str, str] = {}
    # 'default' always counts as defined: a missing DATABASE_URL is its own problem.
    defined = {"default", *found.alias_variables}
    _check_replicas(replica_of, found.alias_variables, defined, problems)
    for alias, config in databases.items():
        mirror = (config.get("TEST") or {}).get("MIRROR")
        if mirror is None or alias in replica_of:  # a replica's mirror is its replica_of
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
    env.add_parser_from_field("pin_seconds", ReplicaPinSeconds)
    pin_seconds = env.pin_seconds(REPLICA_PIN_VARIABLE, DEFAULT_REPLICA_PIN_SECONDS)

    try:
        env.seal()
    except EnvValidationError as error:
        # Every field above was read by name, so environs reports {variable: [messages]}.
        by_variable = cast("Mapping[str, list[str]]", error.error_messages)
        for variable, messages in by_variable.items():
            problems[variable].extend(messages)
    if problems:
        raise ConfigError(problems) from None
    ordered = dict(sorted(databases.items(), key=lambda item: item[0] != "default"))
    replicas: dict[str, list[str]] = {}
    for alias in ordered:  # in DATABASES order
        if alias in replica_of:
            replicas.setdefault(replica_of[alias], []).append(alias)
    return Settings(
        databases=ordered,
        routes=dict(sorted(routes.items())),
        read_only_aliases=frozenset(read_only),
        secret_key=secret_key or DEBUG_SECRET_KEY,
        debug=bool(debug),
        allowed_hosts=tuple(allowed_hosts or ()),
        sources=found.alias_variables,
        route_variables={label: found.route_variables[label] for label in routes},
        replicas={primary: tuple(replicas[primary]) for primary in ordered if primary in replicas},
        replica_max_lag=replica_max_lag,
        replica_pin_seconds=float(pin_seconds),
    )


def _check_replicas(
    replica_of: Mapping[str, str],
    variables: Mapping[str, str],
    defined: set[str],
    problems: dict[str, list[str]],
) -> None:
    """Each ``replica_of`` must name another alias that is defined and is no replica itself."""
    # default as a replica is its own problem: its replicas are not reported again for it.
    replicas = {alias: primary for alias, primary in replica_of.items() if alias != DEFAULT_ALIAS}
    for alias, primary in replica_of.items():
        variable = variables[alias]
        if alias == DEFAULT_ALIAS:
            problems[variable].append(
                "parameter replica_of makes the default database a replica; default must be "
                "writable (unrouted apps live there): define the replica with "
                f"{URL_PREFIX}<NAME> and replica_of=default, and give DATABASE_URL the primary's URL."
            )
        elif primary == alias:
            problems[variable].append(
                "parameter replica_of names this alias itself; a database cannot be a replica of "
                "itself: name the primary it replicates (e.g. default), or remove replica_of."
            )
        elif primary not in defined:
            candidates = sorted(defined - {alias} - set(replicas))
            close = _close_matches(primary, candidates, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems[variable].append(
                f"parameter replica_of names an alias that is not defined{hint}; set it to the "
                f"primary this database replicates, one of the defined aliases "
                f"({', '.join(candidates) or 'default'}), or define that alias with "
                f"{URL_PREFIX}<NAME>."
            )
        elif primary in replicas and replicas[primary] == alias:
            problems[variable].append(
                f"parameter replica_of names '{primary}', whose replica_of names this alias: two "
                "databases cannot replicate each other; remove replica_of from the primary's URL."
            )
        elif primary in replicas:
            problems[variable].append(
                f"parameter replica_of names '{primary}', which is itself a replica (of "
                f"'{replicas[primary]}'); replicas of replicas are not supported: set "
                f"replica_of={replicas[primary]} (the primary both replicate)."
            )


def _messages(error: ma.ValidationError) -> list[str]:
    messages = error.messages
    return list(messages) if isinstance(messages, list) else [str(messages)]
