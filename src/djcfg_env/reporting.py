"""Django's error page and error reports, without the secrets djcfg-env knows.

``djcfg_env.settings`` sets ``DEFAULT_EXCEPTION_REPORTER_FILTER`` to
:class:`SecretsExceptionReporterFilter` and ``DEFAULT_EXCEPTION_REPORTER`` to
:class:`SecretsExceptionReporter`; both are what the DEBUG error page,
``mail_admins`` and ``AdminEmailHandler`` use. The secrets are those of the
loaded settings: every alias's password, its secret options (whatever their
type) and the secret ``name=value`` pairs inside its other options, plus
``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``. Each is found however it is
written (percent-encoded, HTML-escaped, inside a ``repr()``), and a short one
(one or two characters) only where it stands as a value, so the page stays
readable: see :class:`djcfg_env.release.report.Scrubber`.

The filter masks them in the settings (also the ``DATABASES`` options Django's
own name rule misses: ``options=-c app.token=...``, ``dsn``, an int
``sslpassword``), in ``request.META`` (whole values of ``DATABASE_URL*`` and of
the variables their ``${NAME}`` references name: under ``runserver`` META is
the whole environment), in POST data and cookies, and in every frame's local
variables (``conn_params`` dicts, psycopg's ``conninfo`` text, any object whose
``repr()`` holds one). The reporter also masks the exception's message, its
notes and the messages of the exceptions it chains, and passes the finished
page or text through the same scrubber once more. Everything else is shown as
Django shows it: aliases, hosts, users, database names, other settings.
"""

from __future__ import annotations

import functools
import numbers
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.template.defaultfilters import pprint
from django.utils.datastructures import MultiValueDict
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from .env.grammar import DEFAULT_URL_VARIABLE, URL_PREFIX
from .env.urls import SECRET_OPTION, _embedded_secrets, secret_values
from .release.report import Scrubber

__all__ = ["SecretsExceptionReporterFilter", "SecretsExceptionReporter", "hidden_variables"]

#: ``${NAME}`` in a raw URL variable (``$${`` is a literal, so a name found after it is hidden too: harmless).
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Containers larger than this are judged by their ``repr()`` rather than item by item.
_MAX_ITEMS = 1000


def _is_url_variable(name: str) -> bool:
    upper = name.upper()
    return upper == DEFAULT_URL_VARIABLE or upper.startswith(URL_PREFIX)


def hidden_variables(*environs: Mapping[str, Any]) -> frozenset[str]:
    """The environment variables whose values an error page must not show (names only).

    ``SECRET_KEY``, every ``DATABASE_URL*`` variable in ``environs`` or among the loaded
    settings' sources, and every variable those URLs refer to with ``${NAME}``.
    """
    names = {"SECRET_KEY"}
    loaded = sys.modules.get("djcfg_env.settings")
    sources = getattr(getattr(loaded, "_settings", None), "sources", None) or {}
    names.update(str(variable) for variable in sources.values())
    for environ in environs:
        names.update(name for name in environ if isinstance(name, str) and _is_url_variable(name))
    for environ in environs:
        for name in [name for name in names if name in environ]:
            value = environ[name]
            if isinstance(value, str):
                names.update(_REFERENCE.findall(value))
    return frozenset(names)


def _known_secrets() -> frozenset[str]:
    """Every secret of the loaded settings (Django's, and djcfg-env's own), as text."""
    databases: list[Mapping[str, Any]] = []
    others: list[object] = [getattr(settings, "SECRET_KEY", None)]
    configured = getattr(settings, "DATABASES", None) or {}
    databases.extend(config for config in configured.values() if isinstance(config, Mapping))
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None) or ()
    others.extend(fallbacks if isinstance(fallbacks, list | tuple) else ())
    loaded = getattr(sys.modules.get("djcfg_env.settings"), "_settings", None)
    if loaded is not None:
        databases.extend(loaded.databases.values())
        others.append(loaded.secret_key)
    secrets = {str(other) for other in others if other is not None}
    for config in databases:
        secrets.update(secret_values(config))
    secrets.discard("")
    return frozenset(secrets)


def scrubber(substitute: str = SafeExceptionReporterFilter.cleansed_substitute) -> Scrubber:
    """The scrubber for the secrets of the settings as they are now (cached while they stay the same)."""
    return _scrubber(_known_secrets(), substitute)


@functools.lru_cache(maxsize=8)
def _scrubber(secrets: frozenset[str], substitute: str) -> Scrubber:
    return Scrubber({}, secrets, substitute=substitute)


def _has_value(value: Any) -> bool:
    """Whether a value is worth masking (``None`` and empty texts or containers show nothing)."""
    if value is None:
        return False
    return not (isinstance(value, str | bytes | list | tuple | dict) and not value)


class _Shown:
    """A value shown on the page by its (scrubbed) ``repr()``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, and every secret djcfg-env knows masked wherever the page shows a value.

    Values keep their shape: a dict stays a dict with the secret's entry masked,
    a text keeps everything but the secret, an object whose ``repr()`` holds a
    secret is shown by that ``repr()`` with the secret masked. Values without a
    secret are returned untouched.
    """

    def _scrub(self) -> Scrubber:
        return scrubber(self.cleansed_substitute)

    def _text(self, text: str, scrub: Scrubber) -> str:
        for start, end in reversed(_embedded_secrets(text)):  # password=... of an unknown secret too
            text = text[:start] + self.cleansed_substitute + text[end:]
        return scrub(text)

    def cleanse_value(self, value: Any, scrub: Scrubber | None = None) -> Any:
        """``value`` with every known secret masked (the same object when it holds none)."""
        scrub = scrub or self._scrub()
        try:
            return self._cleanse(value, scrub)
        except Exception:  # noqa: BLE001 - a value that breaks on inspection is shown by its repr
            shown = pprint(value)
            cleansed = self._text(shown, scrub)
            return value if cleansed == shown else _Shown(cleansed)

    def _cleanse(self, value: Any, scrub: Scrubber) -> Any:
        if value is None or isinstance(value, bool) or value is self.cleansed_substitute:
            return value
        if isinstance(value, str):
            cleansed_text = self._text(value, scrub)
            return value if cleansed_text == value else cleansed_text
        if isinstance(value, numbers.Number):
            return self.cleansed_substitute if scrub(str(value)) != str(value) else value
        if isinstance(value, bytes):
            text = value.decode("utf-8", errors="surrogateescape")
            return value if self._text(text, scrub) == text else self.cleansed_substitute
        size = len(value) if isinstance(value, Mapping | list | tuple | set | frozenset) else None
        if size is not None and size <= _MAX_ITEMS:
            return self._cleanse_container(value, scrub)
        shown = pprint(value)
        cleansed = self._text(shown, scrub)
        return value if cleansed == shown else _Shown(cleansed)

    def _cleanse_container(self, value: Any, scrub: Scrubber) -> Any:
        if isinstance(value, MultiValueDict):
            cleansed_multi = value.copy()
            for key, items in value.lists():
                cleansed_multi.setlist(key, [self._cleanse_item(key, item, scrub) for item in items])
            return cleansed_multi if dict(cleansed_multi.lists()) != dict(value.lists()) else value
        if isinstance(value, Mapping):
            # A key may hold a secret too: a cache keyed by connection string.
            keys = {key: self._text(key, scrub) if isinstance(key, str) else key for key in value}
            cleansed = {keys[key]: self._cleanse_item(key, item, scrub) for key, item in value.items()}
            changed = any(keys[key] != key or cleansed[keys[key]] is not item for key, item in value.items())
            return cleansed if changed else value
        items = [self.cleanse_value(item, scrub) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items

    def _cleanse_item(self, key: Any, value: Any, scrub: Scrubber) -> Any:
        """A mapping's entry: masked whole under a secret-looking key (``password``, ``sslkey``)."""
        if isinstance(key, str) and SECRET_OPTION.search(key) and _has_value(value):
            return self.cleansed_substitute
        return self.cleanse_value(value, scrub)

    # -- Django's hooks ------------------------------------------------------------------
    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and SECRET_OPTION.search(key) and _has_value(value):
            return self.cleansed_substitute  # also what Django's names miss: OPTIONS["credentials"]
        cleansed = super().cleanse_setting(key, value)
        if cleansed is self.cleansed_substitute or isinstance(cleansed, dict | list | tuple):
            return cleansed  # masked by name, or a container whose items came through here
        return self.cleanse_value(cleansed)

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        hidden = hidden_variables(getattr(request, "META", {}) or {}, os.environ)
        return {
            key: self.cleansed_substitute if key in hidden and value not in (None, "") else value
            for key, value in meta.items()
        }

    def get_safe_cookies(self, request: Any) -> dict[str, Any]:
        base = getattr(super(), "get_safe_cookies", None)
        cookies = base(request) if base is not None else dict(getattr(request, "COOKIES", {}) or {})
        scrub = self._scrub()
        return {key: self.cleanse_value(value, scrub) for key, value in cookies.items()}

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        return self.cleanse_value(parameters) if parameters else parameters

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        scrub = self._scrub()
        return [
            (name, self.cleanse_value(value, scrub))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class SecretsExceptionReporter(ExceptionReporter):
    """Django's reporter, with the exception messages scrubbed and the finished output scrubbed again.

    The messages of the exception, of its notes and of the exceptions it chains
    (a driver's error may quote a connection string) are not values the filter
    sees; the final pass catches whatever else the templates show (the request's
    URL and query string, template debug text).
    """

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        scrub = scrubber()
        for key in ("exception_value", "exception_notes", "unicode_hint", "request_insecure_uri", "user_str"):
            if isinstance(data.get(key), str):
                data[key] = scrub(data[key])
            elif data.get(key) is not None and key == "exception_value":
                data[key] = scrub(str(data[key]))
        if "request_GET_items" in data:
            data["request_GET_items"] = [
                (scrub(str(key)), scrub(value) if isinstance(value, str) else value)
                for key, value in data["request_GET_items"]
            ]
        causes: dict[int, _Shown] = {}
        for frame in data.get("frames") or ():
            cause = frame.get("exc_cause")
            if cause is not None:
                frame["exc_cause"] = causes.setdefault(id(cause), _Shown(scrub(str(cause))))
        return data

    def get_traceback_html(self) -> str:
        return scrubber()(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return scrubber()(super().get_traceback_text())
