"""Database URLs: ``${VAR}`` interpolation, parsing with dj-database-url, masking.

Nothing here puts a value into a message: a URL usually carries a password.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import dj_database_url

__all__ = [
    "RESERVED_PARAMETERS",
    "UrlError",
    "interpolate",
    "parse_url",
    "mask",
    "is_postgresql",
]

#: Query parameters that configure Django rather than the driver.
RESERVED_PARAMETERS = (
    "conn_max_age",
    "conn_health_checks",
    "atomic_requests",
    "disable_server_side_cursors",
    "pool",
    "read_only",
)

MASK = "***"

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}$]*)\}|\$\{")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
_SECRET_OPTION = re.compile(r"pass|secret|token|credential", re.IGNORECASE)
_SQLITE_SCHEMES = frozenset({"sqlite", "spatialite"})
_POSTGRES_BACKENDS = frozenset(
    {
        "django.db.backends.postgresql",
        "django.contrib.gis.db.backends.postgis",
        "timescale.db.backends.postgresql",
        "timescale.db.backends.postgis",
        "django_cockroachdb",
    }
)
# libpq keywords and Django's own PostgreSQL OPTIONS: an unknown parameter that
# is one typo away from one of these is almost certainly that typo.
_POSTGRES_OPTIONS = (
    "application_name assume_role channel_binding client_encoding connect_timeout "
    "fallback_application_name gssencmode gsslib hostaddr isolation_level keepalives "
    "keepalives_count keepalives_idle keepalives_interval krbsrvname load_balance_hosts "
    "options passfile prepare_threshold require_auth requirepeer server_side_binding "
    "service ssl_max_protocol_version ssl_min_protocol_version sslcert sslcertmode "
    "sslcompression sslcrl sslcrldir sslkey sslmode sslnegotiation sslpassword "
    "sslrootcert sslsni target_session_attrs tcp_user_timeout"
).split()


class UrlError(ValueError):
    """A problem with one URL; the message never contains the URL."""


def interpolate(template: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` with ``environ[NAME]`` (``$${`` is a literal ``${``).

    References in the user-info part (user and password) are percent-encoded so
    that any character works there. Replaced text is not scanned again.
    Returns the URL and the names of the variables used in the user-info part.
    Raises :class:`UrlError` naming the first missing or malformed reference.
    """
    if "$" not in template:
        return template
    userinfo_end = _userinfo_end(template)
    missing: list[str] = []
    out: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$${":
            out.append("${")
            continue
        name = match.group(1)
        if name is None or not _VARIABLE.match(name):
            raise UrlError(
                "has a malformed ${...} reference; write ${NAME} with NAME a variable "
                "name, or $${ for a literal '${'."
            )
        if name not in environ:
            missing.append(name)
            continue
        value = environ[name]
        if match.start() < userinfo_end:
            value = quote(value, safe="")
        out.append(value)
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise UrlError(
            f"refers to {names}, which {'is' if len(missing) == 1 else 'are'} not set; "
            f"set {names}, or write $${{ for a literal '${{'."
        )
    out.append(template[position:])
    return "".join(out)


def _userinfo_end(template: str) -> int:
    """Index of the '@' ending the user-info part of a URL template, or -1."""
    start = template.find("://")
    if start < 0:
        return -1
    start += 3
    end = len(template)
    for stop in "/?#":
        found = template.find(stop, start)
        if found >= 0:
            end = min(end, found)
    return template.rfind("@", start, end)


def is_postgresql(config: Mapping[str, Any]) -> bool:
    return config.get("ENGINE") in _POSTGRES_BACKENDS


def parse_url(url: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse one database URL the way dj-database-url does.

    Returns the connection settings (ENGINE, NAME, USER, PASSWORD, HOST, PORT,
    OPTIONS) and the raw values of the reserved query parameters, which are
    taken out of OPTIONS for :mod:`djcfg_env.schema` to validate.
    """
    url = url.strip()
    if not url:
        raise UrlError(
            "is empty; set it to a database URL such as "
            "postgres://user:password@host:5432/name, or unset it."
        )
    if "://" not in url:
        raise UrlError(
            "is not a database URL: it must start with a scheme such as postgres:// "
            "or sqlite:///."
        )
    scheme = url.split("://", 1)[0]
    if not _SCHEME.match(scheme):
        raise UrlError("is not a database URL: the part before :// is not a scheme.")
    if scheme not in dj_database_url.ENGINE_SCHEMES:
        known = ", ".join(sorted(dj_database_url.ENGINE_SCHEMES))
        raise UrlError(f"uses the unknown scheme '{scheme}://'; use one of: {known}.")
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise UrlError(
            "cannot be read as a URL: check the port (a number from 0 to 65535) and the "
            "brackets around an IPv6 host, and percent-encode @ : / # ? % in the user "
            "name and password (or put the password in a variable and write ${NAME})."
        ) from None
    if scheme in _SQLITE_SCHEMES and split.netloc and url != "sqlite://:memory:":
        raise UrlError(
            f"has a host part, which {scheme} does not use: for a file write "
            f"{scheme}:///relative/path.db (three slashes) or {scheme}:////absolute/path.db "
            f"(four), or {scheme}:// for an in-memory database."
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError:
        raise UrlError(
            "cannot be parsed as a database URL; percent-encode special characters in "
            "the user name and password."
        ) from None
    config.setdefault("OPTIONS", {})
    _keep_socket_path_case(config, split.netloc)
    raw = parse_qs(split.query, keep_blank_values=True)
    reserved = {name: raw[name] for name in RESERVED_PARAMETERS if name in raw}
    options = config["OPTIONS"]
    for name in RESERVED_PARAMETERS:
        options.pop(name, None)
    _check_option_names(options, config)
    if scheme not in _SQLITE_SCHEMES and not config.get("NAME") and "service" not in options:
        raise UrlError(
            "has no database name; add it as the path, e.g. "
            f"{scheme}://user:password@host:5432/mydb."
        )
    return config, reserved


def _keep_socket_path_case(config: dict[str, Any], netloc: str) -> None:
    """urlsplit lower-cases the host; a unix-socket directory keeps its case."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return
    host = unquote(host.split(":", 1)[0])
    if host.startswith("/"):
        config["HOST"] = host


def _check_option_names(options: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    for name in options:
        lowered = name.lower()
        if lowered in RESERVED_PARAMETERS and name != lowered:
            raise UrlError(f"has the parameter {name}; write it in lower case: {lowered}.")
        if is_postgresql(config) and name not in _POSTGRES_OPTIONS and name != "pool":
            close = difflib.get_close_matches(lowered, _POSTGRES_OPTIONS + list(RESERVED_PARAMETERS), n=1, cutoff=0.8)
            if close and close[0] != name:
                raise UrlError(
                    f"has the unknown parameter {name}; did you mean {close[0]}?"
                )


def mask(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one alias's settings fit to print: secrets replaced by ``***``."""
    shown = dict(config)
    if shown.get("PASSWORD"):
        shown["PASSWORD"] = MASK
    options = dict(shown.get("OPTIONS") or {})
    for key in options:
        if _SECRET_OPTION.search(key):
            options[key] = MASK
    shown["OPTIONS"] = options
    return shown
