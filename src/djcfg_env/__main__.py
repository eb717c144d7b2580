"""``python -m djcfg_env check|show [--json]``: validate or display the environment.

Neither needs Django settings: they run :func:`djcfg_env.load` on ``os.environ``.
Passwords and other secrets are shown as ``***``. Exit codes: 0 valid, 1 the
environment has problems (all listed on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from . import ConfigError, Settings, load
from .env.urls import mask

__all__ = ["main"]

_KNOWN_ENGINES = {
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.sqlite3": "sqlite",
    "django.db.backends.mysql": "mysql",
    "django.db.backends.oracle": "oracle",
}


def _engine(engine: str) -> str:
    return _KNOWN_ENGINES.get(engine, engine)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report_problems(error: ConfigError, out: TextIO) -> None:
    print(f"djcfg-env: {_plural(len(error), 'problem')} in the environment:", file=out)
    for line in str(error).splitlines():
        print(f"  {line}", file=out)


def _installed_app_labels(environ: Mapping[str, str]) -> tuple[list[str] | None, str | None]:
    """App labels from DJANGO_SETTINGS_MODULE when it is set and loads; else why not."""
    if not environ.get("DJANGO_SETTINGS_MODULE"):
        return None, None
    try:
        import django
        from django.apps import apps

        django.setup()
        return sorted(config.label for config in apps.get_app_configs()), None
    except Exception as error:  # noqa: BLE001 - only the type is shown: messages may hold secrets
        return None, f"could not load DJANGO_SETTINGS_MODULE to list apps ({type(error).__name__})"


def _describe(settings: Settings, app_labels: list[str] | None) -> dict[str, Any]:
    databases = {}
    primary_of = settings.primary_of
    for alias, config in settings.DATABASES.items():
        shown = mask(config)
        databases[alias] = {
            "variable": settings.sources.get(alias),
            "engine": shown.get("ENGINE", ""),
            "host": shown.get("HOST", ""),
            "port": shown.get("PORT", ""),
            "name": shown.get("NAME", ""),
            "user": shown.get("USER", ""),
            "password": shown.get("PASSWORD", ""),
            "options": shown.get("OPTIONS", {}),
            "read_only": alias in settings.read_only_aliases,
            "conn_max_age": shown.get("CONN_MAX_AGE"),
            "conn_health_checks": shown.get("CONN_HEALTH_CHECKS"),
            "atomic_requests": shown.get("ATOMIC_REQUESTS"),
            "disable_server_side_cursors": shown.get("DISABLE_SERVER_SIDE_CURSORS"),
            "test": {key.lower(): value for key, value in (shown.get("TEST") or {}).items()},
            "replica_of": primary_of.get(alias),
            "replica_max_lag": settings.replica_max_lag.get(alias),
            "replicas": [
                {"alias": replica, "replica_max_lag": settings.replica_max_lag.get(replica)}
                for replica in settings.replicas.get(alias, ())
            ],
        }
    routes = dict(settings.routes)
    route_variables = dict(settings.route_variables)
    default_apps = (
        [label for label in app_labels if label not in settings.routes] if app_labels is not None else None
    )
    return {
        "databases": databases,
        "routes": routes,
        "route_variables": route_variables,
        "read_only": sorted(settings.read_only_aliases),
        "replicas": {primary: list(each) for primary, each in settings.replicas.items()},
        "replica_pin_seconds": settings.replica_pin_seconds,
        "default_apps": default_apps,
    }


def _print_human(description: dict[str, Any], note: str | None, out: TextIO) -> None:
    print("Databases:", file=out)
    for alias, db in description["databases"].items():
        where = db["host"] or "(local)"
        if db["port"] not in ("", None):
            where = f"{where}:{db['port']}"
        if db["replica_of"]:
            flags = f"  [read-only: replica of {db['replica_of']}]"
        else:
            flags = "  [read-only]" if db["read_only"] else ""
        print(f"  {alias}  ({db['variable']}){flags}", file=out)
        print(f"    engine:   {_engine(db['engine'])}", file=out)
        print(f"    host:     {where}", file=out)
        print(f"    name:     {db['name']}", file=out)
        if db["user"]:
            print(f"    user:     {db['user']}", file=out)
        if db["password"]:
            print(f"    password: {db['password']}", file=out)
        if db["options"]:
            options = ", ".join(f"{key}={value}" for key, value in db["options"].items())
            print(f"    options:  {options}", file=out)
        if db["test"]:
            test = ", ".join(f"{key}={value}" for key, value in db["test"].items())
            print(f"    test:     {test}", file=out)
        if db["replica_of"]:
            print(f"    replica_max_lag: {_lag(db['replica_max_lag'])}", file=out)
        if db["replicas"]:
            replicas = ", ".join(
                f"{each['alias']} (replica_max_lag: {_lag(each['replica_max_lag'])})"
                for each in db["replicas"]
            )
            print(f"    replicas: {replicas}", file=out)
        print(
            f"    conn_max_age={db['conn_max_age']} conn_health_checks={db['conn_health_checks']}"
            f" atomic_requests={db['atomic_requests']}"
            f" disable_server_side_cursors={db['disable_server_side_cursors']}",
            file=out,
        )
    if any(db["replicas"] for db in description["databases"].values()):
        print(
            f"Replica pin: reads stay on the primary for {description['replica_pin_seconds']:g}s "
            "after a client writes (DB_REPLICA_PIN_SECONDS)",
            file=out,
        )
    print("Routes:", file=out)
    if not description["routes"]:
        print("  (none: every app stays on default)", file=out)
    for label, alias in description["routes"].items():
        print(f"  {label} -> {alias}  ({description['route_variables'][label]})", file=out)
    default_apps = description["default_apps"]
    if default_apps is None:
        print("Apps on default: every app not routed above", file=out)
    else:
        print(f"Apps on default: {', '.join(default_apps) or '(none)'}", file=out)
    if note:
        print(f"  note: {note}", file=out)


def _lag(seconds: float | None) -> str:
    """``2.5s``, or ``none`` when the replica takes reads whatever its lag."""
    return "none" if seconds is None else f"{seconds:g}s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m djcfg_env",
        description="Validate or show the database setup djcfg-env resolves from the "
        "environment (no Django settings needed). Secrets are masked as ***.",
        epilog="exit codes: 0 valid, 1 the environment has problems, 2 usage error",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{check,show}")
    commands.add_parser(
        "check", help="exit 0 with a one-line summary if valid, 1 listing every problem if not"
    )
    show = commands.add_parser(
        "show", help="the resolved aliases, routes and apps on default, passwords masked"
    )
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        settings = load(environ)
    except ConfigError as error:
        _report_problems(error, sys.stderr)
        return 1
    if arguments.command == "check":
        read_only = sorted(settings.read_only_aliases)
        read_only_text = f"{len(read_only)} read-only"
        if read_only:
            read_only_text += f" ({', '.join(read_only)})"
        print(
            f"djcfg-env: OK: {_plural(len(settings.databases), 'database')} "
            f"({', '.join(settings.databases)}), {_plural(len(settings.routes), 'route')}, "
            f"{read_only_text}."
        )
        return 0
    labels, note = _installed_app_labels(environ)
    description = _describe(settings, labels)
    if arguments.json:
        if note:
            description["note"] = note
        json.dump(description, sys.stdout, indent=2, default=str)
        print()
    else:
        _print_human(description, note, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
