"""The one exception djcfg-env raises for a bad environment, and how it reads.

Every message names the variable first, says what is wrong and how to fix it,
and never contains a value: a value may be (or contain) a password.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping
from types import FrameType, MappingProxyType, TracebackType

from django.core.exceptions import ImproperlyConfigured

__all__ = ["ConfigError", "Problems", "report_if_fatal", "server_exit_code"]

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

    # Shown (in tracebacks) and pickled under its public home.
    __module__ = "djcfg_env.exceptions"

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


# -- a bad environment that ends the process -------------------------------------------
#
# ``manage.py`` catches the ImproperlyConfigured raised while importing the settings
# module and runs the command anyway; whatever touches the app registry first then ends
# the process with an unrelated error (on Django 4.2 the order of the system checks
# decides which, run to run). So the error raised by ``djcfg_env.settings`` is kept, and
# if the process ends on an uncaught exception it is what gets printed.

_fatal: ConfigError | None = None
_installed = False


def report_if_fatal(error: ConfigError | None) -> None:
    """Print ``error`` if the process later ends on an uncaught exception.

    ``None`` forgets it (the settings loaded after all). When the exception that
    ends the process is a ConfigError (``manage.py`` imports the settings again
    and again, each time raising a new one), only its problem list is printed:
    the frames of a settings import help nobody. Any other exception keeps its
    traceback, and the problem list follows it.
    """
    global _fatal, _installed
    _fatal = error
    if error is not None and not _installed:
        _installed = True
        previous = sys.excepthook

        def excepthook(
            kind: type[BaseException], value: BaseException, tb: TracebackType | None
        ) -> None:
            if _fatal is None:
                previous(kind, value, tb)
                return
            error = next((e for e in _chain(value) if isinstance(e, ConfigError)), None)
            if error is None:
                previous(kind, value, tb)
                sys.stderr.write(
                    "\nBefore that, the settings module could not be loaded, because "
                    "the environment is not valid:\n"
                )
                error = _fatal
            sys.stderr.write("".join(traceback.format_exception_only(type(error), error)))

        sys.excepthook = excepthook


#: gunicorn's functions that load the application (not those that serve a request).
_GUNICORN_LOADING = frozenset({"wsgi", "load", "load_wsgiapp", "import_app"})


def server_exit_code() -> int | None:
    """The exit code that stops the server importing the settings, when it would repeat the problems.

    gunicorn logs an exception that stops a worker from booting, traceback and
    message, then prints the message again: the problem list would appear twice.
    So when gunicorn is loading the application (a worker booting, or the master
    with ``--preload``), the settings module prints the list itself, once,
    and ends the process with gunicorn's "App failed to load" code (4), on which
    gunicorn stops instead of booting the next worker. ``None`` elsewhere.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if (
            str(frame.f_globals.get("__name__", "")).startswith("gunicorn.")
            and frame.f_code.co_name in _GUNICORN_LOADING
        ):
            arbiter = getattr(sys.modules.get("gunicorn.arbiter"), "Arbiter", None)
            return int(getattr(arbiter, "APP_LOAD_ERROR", 4))
        frame = frame.f_back
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
