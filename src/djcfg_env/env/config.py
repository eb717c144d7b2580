"""``Settings``: the resolved configuration, frozen, safe to print."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .grammar import DEFAULT_ALIAS, route_variable

__all__ = ["Settings", "ROUTER", "DEFAULT_REPLICA_PIN_SECONDS", "freeze", "thaw"]

#: The router the settings put in ``DATABASE_ROUTERS``.
ROUTER = "djcfg_env.router.AppDatabaseRouter"
#: The exception reporter filter and reporter the settings name: no secret on Django's error
#: page or in its error reports (:mod:`djcfg_env.reporting`).
EXCEPTION_REPORTER_FILTER = "djcfg_env.reporting.SecretsExceptionReporterFilter"
EXCEPTION_REPORTER = "djcfg_env.reporting.SecretsExceptionReporter"
#: ``DB_REPLICA_PIN_SECONDS`` when it is not set (django-multidb-router's 15 seconds).
DEFAULT_REPLICA_PIN_SECONDS = 15.0


def freeze(value: Any) -> Any:
    """A deep, read-only copy: dicts become mappingproxies, lists tuples."""
    if isinstance(value, MappingProxyType):  # already frozen (the loader's cached configs)
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A deep, mutable copy in the shapes Django expects (dicts and lists)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return copy.copy(value)


class Settings:
    """Everything :func:`djcfg_env.load` resolved from the environment.

    Immutable: the upper-case properties return fresh copies in the shapes
    Django expects, so a caller may change what it gets without changing this.
    ``repr()`` shows aliases, routes and replicas (if any), never a password or the secret key.
    """

    __slots__ = (
        "databases",
        "routes",
        "read_only_aliases",
        "secret_key",
        "debug",
        "allowed_hosts",
        "sources",
        "route_variables",
        "replicas",
        "replica_max_lag",
        "replica_pin_seconds",
    )

    #: alias -> Django connection settings (``default`` first), read-only.
    databases: Mapping[str, Mapping[str, Any]]
    #: app label -> alias.
    routes: Mapping[str, str]
    #: aliases marked ``read_only=true``.
    read_only_aliases: frozenset[str]
    secret_key: str
    debug: bool
    allowed_hosts: tuple[str, ...]
    #: alias -> the variable that defined it.
    sources: Mapping[str, str]
    #: app label -> the route variable as it was written (``DB_ROUTE_Blog``).
    route_variables: Mapping[str, str]
    #: primary alias -> its replica aliases (``replica_of``), in ``DATABASES`` order; only
    #: primaries with replicas.
    replicas: Mapping[str, tuple[str, ...]]
    #: replica alias -> ``replica_max_lag`` in seconds (only replicas that set it).
    replica_max_lag: Mapping[str, float]
    #: ``DB_REPLICA_PIN_SECONDS``: how long a client's reads stay on the primary after a write.
    replica_pin_seconds: float

    def __init__(
        self,
        *,
        databases: Mapping[str, Mapping[str, Any]],
        routes: Mapping[str, str],
        read_only_aliases: frozenset[str],
        secret_key: str,
        debug: bool,
        allowed_hosts: tuple[str, ...],
        sources: Mapping[str, str],
        route_variables: Mapping[str, str] | None = None,
        replicas: Mapping[str, tuple[str, ...]] | None = None,
        replica_max_lag: Mapping[str, float] | None = None,
        replica_pin_seconds: float = DEFAULT_REPLICA_PIN_SECONDS,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "databases", freeze(databases))
        set_(self, "routes", MappingProxyType(dict(routes)))
        set_(self, "read_only_aliases", frozenset(read_only_aliases))
        set_(self, "secret_key", secret_key)
        set_(self, "debug", debug)
        set_(self, "allowed_hosts", tuple(allowed_hosts))
        set_(self, "sources", MappingProxyType(dict(sources)))
        written = dict(route_variables or {})
        set_(
            self,
            "route_variables",
            MappingProxyType({label: written.get(label, route_variable(label)) for label in self.routes}),
        )
        set_(
            self,
            "replicas",
            MappingProxyType({primary: tuple(each) for primary, each in (replicas or {}).items() if each}),
        )
        set_(
            self,
            "replica_max_lag",
            MappingProxyType({k: float(v) for k, v in (replica_max_lag or {}).items()}),
        )
        set_(self, "replica_pin_seconds", float(replica_pin_seconds))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Settings is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Settings is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    # -- the names settings.py uses ---------------------------------------
    @property
    def DATABASES(self) -> dict[str, dict[str, Any]]:  # noqa: N802
        return thaw(self.databases)  # type: ignore[no-any-return]

    @property
    def DATABASE_ROUTERS(self) -> list[str]:  # noqa: N802
        return [ROUTER]

    @property
    def DATABASE_ROUTING_RULES(self) -> dict[str, str]:  # noqa: N802
        return dict(self.routes)

    @property
    def READ_ONLY_DATABASES(self) -> frozenset[str]:  # noqa: N802
        return self.read_only_aliases

    @property
    def DATABASE_REPLICAS(self) -> dict[str, list[str]]:  # noqa: N802
        return {primary: list(each) for primary, each in self.replicas.items()}

    @property
    def DATABASE_REPLICA_MAX_LAG(self) -> dict[str, float]:  # noqa: N802
        return dict(self.replica_max_lag)

    @property
    def DB_REPLICA_PIN_SECONDS(self) -> float:  # noqa: N802
        return self.replica_pin_seconds

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802
        return self.secret_key

    @property
    def DEBUG(self) -> bool:  # noqa: N802
        return self.debug

    @property
    def ALLOWED_HOSTS(self) -> list[str]:  # noqa: N802
        return list(self.allowed_hosts)

    @property
    def DEFAULT_EXCEPTION_REPORTER_FILTER(self) -> str:  # noqa: N802
        return EXCEPTION_REPORTER_FILTER

    @property
    def DEFAULT_EXCEPTION_REPORTER(self) -> str:  # noqa: N802
        return EXCEPTION_REPORTER

    #: The upper-case names :meth:`as_django_settings` returns.
    SETTING_NAMES = (
        "DATABASES",
        "DATABASE_ROUTERS",
        "DATABASE_ROUTING_RULES",
        "READ_ONLY_DATABASES",
        "DATABASE_REPLICAS",
        "DATABASE_REPLICA_MAX_LAG",
        "DB_REPLICA_PIN_SECONDS",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "DEFAULT_EXCEPTION_REPORTER_FILTER",
        "DEFAULT_EXCEPTION_REPORTER",
    )

    def as_django_settings(self) -> dict[str, Any]:
        """The settings as a dict of Django setting names, ready for ``globals().update``."""
        return {name: getattr(self, name) for name in self.SETTING_NAMES}

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(self.databases)

    def alias_for(self, app_label: str) -> str:
        """The alias an app's models live on (``default`` when not routed)."""
        return self.routes.get(app_label.lower(), DEFAULT_ALIAS)

    @property
    def primary_of(self) -> Mapping[str, str]:
        """replica alias -> the primary it replicates (``replica_of``)."""
        return MappingProxyType(
            {replica: primary for primary, each in self.replicas.items() for replica in each}
        )

    def __repr__(self) -> str:
        routes = ", ".join(f"{app}->{alias}" for app, alias in self.routes.items())
        # Replicas only when there are some (replica -> its primary).
        replicas = ", ".join(
            f"{replica}->{primary}" for primary, each in self.replicas.items() for replica in each
        )
        return (
            f"<Settings aliases=[{', '.join(self.databases)}] routes=[{routes}] "
            f"read_only=[{', '.join(sorted(self.read_only_aliases))}] "
            + (f"replicas=[{replicas}] " if replicas else "")
            + f"debug={self.debug}>"
        )
