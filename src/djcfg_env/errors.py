"""The one exception djcfg-env raises for a bad environment, and how it reads.

Every message names the variable first, says what is wrong and how to fix it,
and never contains a value: a value may be (or contain) a password.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from django.core.exceptions import ImproperlyConfigured

__all__ = ["ConfigError", "Problems"]

#: variable name -> messages about it (no values, ever).
Problems = Mapping[str, tuple[str, ...]]


def _order(variable: str) -> tuple[int, str]:
    # DATABASE_URL first, then the other aliases, the routes, the rest.
    if variable == "DATABASE_URL":
        return (0, variable)
    if variable.startswith("DATABASE_URL_"):
        return (1, variable)
    if variable.startswith("DB_ROUTE_"):
        return (2, variable)
    return (3, variable)


class ConfigError(ImproperlyConfigured):
    """The environment does not describe a valid configuration.

    Raised once, with every problem found. ``str(error)`` has one line per
    problem, each starting with the variable's name; :attr:`problems` holds
    the same as data (variable -> messages) for tools.
    """

    problems: Problems

    def __init__(self, problems: Mapping[str, Iterable[str]]) -> None:
        # A variable with no message would be a line-less "problem": leave it out.
        ordered = {
            variable: tuple(messages)
            for variable in sorted(problems, key=_order)
            if (messages := tuple(problems[variable]))
        }
        self.problems = MappingProxyType(ordered)
        super().__init__(self._render())

    def _render(self) -> str:
        return "\n".join(
            f"{variable}: {message}"
            for variable, messages in self.problems.items()
            for message in messages
        )

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"ConfigError({len(self)} problem{'s' if len(self) != 1 else ''}: {', '.join(self.problems)})"

    def __len__(self) -> int:
        return sum(len(messages) for messages in self.problems.values())

    def __reduce__(self):  # keep it picklable (multiprocessing, test runners)
        return (type(self), ({k: list(v) for k, v in self.problems.items()},))
