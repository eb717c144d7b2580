"""Which variables are database aliases and which are routes.

``DATABASE_URL`` is the alias ``default``; ``DATABASE_URL_<NAME>`` is the alias
``<name>`` (lower-cased); ``DB_ROUTE_<APP_LABEL>`` routes an app label to an
alias. Names are checked here; values are left to :mod:`djcfg_env.env.schema`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_URL_VARIABLE",
    "URL_PREFIX",
    "ROUTE_PREFIX",
    "DEFAULT_ALIAS",
    "Discovered",
    "discover",
    "url_variable",
    "route_variable",
]

DEFAULT_URL_VARIABLE = "DATABASE_URL"
URL_PREFIX = "DATABASE_URL_"
ROUTE_PREFIX = "DB_ROUTE_"

#: The alias DATABASE_URL defines (Django's DEFAULT_DB_ALIAS).
DEFAULT_ALIAS = "default"

# An alias or app label: an ASCII Python identifier, used lower-cased.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def url_variable(alias: str) -> str:
    """The variable that defines ``alias``: ``DATABASE_URL`` or ``DATABASE_URL_<ALIAS>``."""
    return DEFAULT_URL_VARIABLE if alias == DEFAULT_ALIAS else f"{URL_PREFIX}{alias.upper()}"


def route_variable(app_label: str) -> str:
    """The variable that routes ``app_label``: ``DB_ROUTE_<APP_LABEL>``.

    Routes match labels case-insensitively; where the variable as the user wrote
    it is known (``Settings.route_variables``), show that instead.
    """
    return f"{ROUTE_PREFIX}{app_label.upper()}"


@dataclass
class Discovered:
    #: alias -> the variable that defines it (``default`` -> ``DATABASE_URL``).
    alias_variables: dict[str, str] = field(default_factory=dict)
    #: app label -> the variable that routes it.
    route_variables: dict[str, str] = field(default_factory=dict)
    #: variable -> messages, for names that cannot be used.
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _check_name(
    variable: str, name: str, prefix: str, what: str, example: str, problems: dict[str, list[str]]
) -> bool:
    if not name:
        problems[variable].append(
            f"has no {what} after {prefix}; name the {what}, e.g. {prefix}{example}."
        )
        return False
    if not _NAME.match(name):
        problems[variable].append(
            f"{what} {name!r} is not a valid name; use letters, digits and underscores, "
            f"not starting with a digit (e.g. {prefix}{example})."
        )
        return False
    return True


def _claim(
    owners: dict[str, str],
    key: str,
    variable: str,
    what: str,
    problems: dict[str, list[str]],
) -> None:
    other = owners.get(key)
    if other is None:
        owners[key] = variable
        return
    first, second = sorted((other, variable))
    for var, twin in ((first, second), (second, first)):
        problems[var].append(
            f"gives the same {what} {key!r} as {twin}; keep only one of the two variables."
        )
    owners[key] = first


def discover(environ: Mapping[str, str]) -> Discovered:
    """Find every alias and route variable in ``environ`` and check their names."""
    found = Discovered()
    problems = found.problems
    if DEFAULT_URL_VARIABLE in environ:
        found.alias_variables[DEFAULT_ALIAS] = DEFAULT_URL_VARIABLE
    for variable in sorted(environ):
        if variable.startswith(URL_PREFIX):
            name = variable[len(URL_PREFIX) :]
            if name.lower() == "default":
                problems[variable].append(
                    "cannot define the alias 'default'; set DATABASE_URL for the default "
                    f"database and remove {variable}."
                )
                continue
            if _check_name(variable, name, URL_PREFIX, "alias", "BLOG_DB", problems):
                _claim(found.alias_variables, name.lower(), variable, "alias", problems)
        elif variable.startswith(ROUTE_PREFIX):
            label = variable[len(ROUTE_PREFIX) :]
            if _check_name(variable, label, ROUTE_PREFIX, "app label", "BLOG", problems):
                _claim(found.route_variables, label.lower(), variable, "app label", problems)
    # A collision keeps one owner, so routes to that alias are not also
    # reported as routes to an undefined alias.
    return found
