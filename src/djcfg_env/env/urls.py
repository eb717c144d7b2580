"""Database URLs: ``${VAR}`` interpolation, parsing with dj-database-url, masking.

Nothing here puts a value into a message: a URL usually carries a password.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, parse_qs, quote, unquote, urlsplit

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
    "test_name",
    "test_mirror",
    "replica_of",
    "replica_max_lag",
)

MASK = "***"

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}$]*)\}|\$\{")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
#: Driver options whose value is (or may be) a secret: masked in every output.
SECRET_OPTION = re.compile(r"pass|secret|token|credential|key", re.IGNORECASE)
_SQLITE_SCHEMES = frozenset({"sqlite", "spatialite"})
#: The one in-memory URL dj-database-url special-cases (":memory:" is no host:port).
_SQLITE_MEMORY = "sqlite://:memory:"
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
_POSTGRES_KNOWN = _POSTGRES_OPTIONS + list(RESERVED_PARAMETERS)
_MYSQL_KNOWN_OPTIONS = ("charset", "init_command", "ssl", "ssl-ca", "ssl-cert", "ssl-key", "isolation_level",
                        "connect_timeout", "read_timeout", "write_timeout", "unix_socket")


class UrlError(ValueError):
    """A problem with one URL; the message never contains the URL."""


def is_text(value: str) -> bool:
    """Whether ``value`` is real text (no undecodable bytes, which Python keeps as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NOT_TEXT = (
    "has bytes that are not UTF-8 text (the environment holds them as they are, and no driver "
    "can use them); set it again as UTF-8 text (in a URL, percent-encode the UTF-8 bytes of a "
    "special character: \u00e9 is %C3%A9)."
)


def interpolate(template: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` with ``environ[NAME]`` (``$${`` is a literal ``${``).

    References in the user-info part (user and password) and in query parameter
    values are percent-encoded so that any character works there. Replaced text is not scanned again. Raises
    :class:`UrlError` naming every missing variable, or a malformed reference.
    """
    if "$" not in template:
        return template
    segments = _compile(template)
    if isinstance(segments, str):
        raise UrlError(segments)
    missing = [name for _, name, _ in segments if name and name not in environ]
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise UrlError(
            f"refers to {names}, which {'is' if len(missing) == 1 else 'are'} not set; "
            f"set {names}, or write $${{ for a literal '${{'."
        )
    undecodable = [name for _, name, _ in segments if name and not is_text(environ[name])]
    if undecodable:
        names = ", ".join(dict.fromkeys(undecodable))
        raise UrlError(
            f"refers to {names}, whose value has bytes that are not UTF-8 text; set "
            f"{names} again as UTF-8 text."
        )
    return "".join(
        literal + ((quote(environ[name], safe="") if encode else environ[name]) if name else "")
        for literal, name, encode in segments
    )


@functools.lru_cache(maxsize=1024)
def _compile(template: str) -> tuple[tuple[str, str | None, bool], ...] | str:
    """Split a template into (literal, variable or None, percent-encode?) segments.

    Returns a message string instead for a malformed reference.
    """
    userinfo_end = _userinfo_end(template)
    segments: list[tuple[str, str | None, bool]] = []
    literal: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(template):
        literal.append(template[position : match.start()])
        position = match.end()
        if match.group(0) == "$${":
            literal.append("${")
            continue
        name = match.group(1)
        if name is None or not _VARIABLE.match(name):
            return (
                "has a malformed ${...} reference; write ${NAME} with NAME a variable "
                "name, or $${ for a literal '${'."
            )
        encode = match.start() < userinfo_end or _in_query_value(template, match.start())
        segments.append(("".join(literal), name, encode))
        literal = []
    literal.append(template[position:])
    segments.append(("".join(literal), None, False))
    return tuple(segments)


def _in_query_value(template: str, position: int) -> bool:
    """Whether ``position`` is in the value of a query parameter (after ``name=``) of a URL template.

    A value put in there as it is would be cut by an ``&`` (the rest read as another
    parameter, and shown unmasked) or changed by a ``+`` or ``%``.
    """
    start = template.find("://")
    query = template.find("?", start + 3) if start >= 0 else -1
    if query < 0 or position < query:
        return False
    return "=" in template[query + 1 : position].rpartition("&")[2]


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


def _close_matches(word: str, candidates: Sequence[str], n: int, cutoff: float) -> list[str]:
    import difflib  # only on error paths: it is slow to import

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


def is_postgresql(config: Mapping[str, Any]) -> bool:
    return config.get("ENGINE") in _POSTGRES_BACKENDS


def parse_url(url: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse one database URL the way dj-database-url does.

    Returns the connection settings (ENGINE, NAME, USER, PASSWORD, HOST, PORT,
    OPTIONS) and the raw values of the reserved query parameters, which are
    taken out of OPTIONS for :mod:`djcfg_env.env.schema` to validate.
    """
    url = url.strip()
    if not url:
        raise UrlError(
            "is empty; set it to a database URL such as "
            "postgres://user:password@host:5432/name, or unset it."
        )
    if "://" not in url:
        raise UrlError(
            "is not a database URL; start it with a scheme, e.g. "
            "postgres://user:password@host:5432/name or sqlite:///db.sqlite3."
        )
    # urlsplit (and so dj-database-url) reads the scheme case-insensitively.
    scheme = url.split("://", 1)[0].lower()
    if not _SCHEME.match(scheme):
        raise UrlError(
            "is not a database URL: the part before :// is not a scheme; start it with "
            "one, e.g. postgres:// or sqlite:///."
        )
    if scheme not in dj_database_url.ENGINE_SCHEMES:
        # The scheme is part of the value: name only known schemes, never it.
        known = sorted(dj_database_url.ENGINE_SCHEMES)
        close = _close_matches(scheme.lower(), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}://?)" if close else ""
        raise UrlError(
            f"uses a scheme dj-database-url does not know{hint}; use one of: "
            f"{', '.join(known)}."
        )
    if "\x00" in url:
        raise UrlError(_NUL_MESSAGE.format(where="the URL"))
    if any(character in url for character in "\t\r\n"):
        # urlsplit (and so dj-database-url) deletes them wherever they are: p<TAB>w would be pw.
        raise UrlError(
            "has a tab or a line break inside it, which would be silently deleted (a password "
            "p<TAB>w would become pw); remove it, or percent-encode it (%09, %0A, %0D)."
        )
    if url == _SQLITE_MEMORY:
        # dj-database-url's special case: ':memory:' is not a host and a port.
        return _parsed(url), {}
    if scheme in _SQLITE_SCHEMES and url[len(scheme) + 3 :].partition("?")[0] == ":memory:":
        # The same in-memory database with parameters (sqlite://:memory:?read_only=true),
        # or spatialite://:memory:: what 'sqlite://' + the rest gives.
        url = url[: len(scheme) + 3] + url[len(scheme) + 3 + len(":memory:") :]
        in_memory = True
    else:
        in_memory = False
    if "#" in url:
        # dj-database-url would drop everything after '#' without a word; it is
        # almost always an unencoded '#' in a password or a file name.
        raise UrlError(
            "contains '#', which would cut the URL short; percent-encode it as %23 "
            "(or put the password in a variable and write ${NAME})."
        )
    if not _escapes_are_utf8(url):
        raise UrlError(_NOT_UTF8_ESCAPE)
    split = _split(url)
    if scheme not in _SQLITE_SCHEMES:  # a file path may hold an '@'
        _reject_misplaced_password(split)
    if scheme in _SQLITE_SCHEMES and split.netloc:
        raise UrlError(
            f"has a host part, which {scheme} does not use; write the file's path after "
            f"three slashes, e.g. {scheme}:///myfile.db (relative to the working "
            f"directory) or {scheme}:////var/data/myfile.db (absolute), or {scheme}:// "
            f"for an in-memory database."
        )
    raw = parse_qs(split.query, keep_blank_values=True)
    _reject_huge_numbers(raw)
    config = _parsed(url)
    if in_memory and not config.get("NAME"):
        config["NAME"] = ":memory:"  # dj-database-url leaves it empty for spatialite://
    _reject_nul(config)
    _keep_socket_path_case(config, split.netloc)
    _reject_repeated_driver_parameters(raw)
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


_NOT_UTF8_ESCAPE = (
    "has a percent-encoded byte that is not part of UTF-8 text (such as %FF); it would reach the "
    "database as the replacement character U+FFFD, not as that byte. Percent-encode the UTF-8 "
    "bytes of the character you mean (\u00e9 is %C3%A9), or put the value in a variable and write "
    "${NAME}."
)


def _escapes_are_utf8(url: str) -> bool:
    """Whether every ``%XX`` sequence decodes as UTF-8 (dj-database-url would put U+FFFD instead)."""
    try:
        unquote(url, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


_NUL_MESSAGE = (
    "has a NUL character (%00) in {where}; remove it. Drivers are C libraries that end a "
    "value at the first NUL, so everything after it (the rest of the password, the host, "
    "the port) would be silently dropped and the connection could go to another server."
)
_PARTS = {"USER": "the user name", "PASSWORD": "the password", "HOST": "the host", "NAME": "the database name"}


def _reject_nul(config: Mapping[str, Any]) -> None:
    """Refuse a percent-encoded NUL (``%00``) in any part; the message names the part only."""
    for key, where in _PARTS.items():
        if "\x00" in str(config.get(key) or ""):
            raise UrlError(_NUL_MESSAGE.format(where=where))
    for key, value in (config.get("OPTIONS") or {}).items():
        if "\x00" in str(key) or "\x00" in str(value):
            raise UrlError(_NUL_MESSAGE.format(where="a query parameter"))


_MISPLACED_PASSWORD = (
    "looks like a password with an unencoded '/' or '@' ({why}), which would be read as "
    "another host and a database name holding the password; percent-encode the password "
    "(/ is %2F, @ is %40) or put it in a variable and write ${{NAME}}."
)


def _reject_misplaced_password(split: SplitResult) -> None:
    """Refuse URLs whose parts only make sense as a misplaced password; never quote them."""
    path = unquote(split.path)
    if "@" in path:
        raise UrlError(_MISPLACED_PASSWORD.format(why="an '@' after the host part"))
    netloc = split.netloc
    if "@" not in netloc and "@" in split.query:
        # postgres://app:5432/x?a=s3cret@db/main: the password's tail would be a parameter.
        raise UrlError(_MISPLACED_PASSWORD.format(why="an '@' after the host part, in the parameters"))
    if "@" not in netloc and netloc.rpartition("]")[2].endswith(":") and not netloc.startswith("/"):
        raise UrlError(_MISPLACED_PASSWORD.format(why="a user part ending in ':' and no '@'"))


#: dj-database-url turns every all-digit parameter into an int; Python refuses more than
#: 4300 digits (and no real setting has more than a few).
_MAX_DIGITS = 18


def _parameter(name: str, unknown: str) -> str:
    """How a message names a query parameter: by name when it is a known one, else ``unknown``.

    An unknown parameter's name is part of the value, which messages never repeat.
    """
    known = name in RESERVED_PARAMETERS or name in _POSTGRES_OPTIONS or name in _MYSQL_KNOWN_OPTIONS
    return f"parameter {name}" if known else unknown


def _reject_huge_numbers(raw: Mapping[str, list[str]]) -> None:
    for name, values in raw.items():
        if any(value.isdigit() and len(value.lstrip("0")) > _MAX_DIGITS for value in values):
            shown = _parameter(name, "a parameter")
            raise UrlError(f"has {shown} with a number of more than {_MAX_DIGITS} digits; give a real value.")


def _reject_repeated_driver_parameters(raw: Mapping[str, list[str]]) -> None:
    """A driver parameter given twice would reach the driver as a list: refuse it now."""
    for name, values in raw.items():
        if name in RESERVED_PARAMETERS or len(values) < 2:
            continue
        shown = _parameter(name, "a driver parameter")
        raise UrlError(f"has {shown} given {len(values)} times; give each parameter once.")


_BRACKETED_HOST = re.compile(r"\[[^\[\]]*\](?::[^\[\]]*)?\Z")


def _brackets_hold_the_whole_host(netloc: str) -> bool:
    """Whether an IPv6 ``[...]`` is the whole host: urlsplit reads ``x[::1]y`` as ``::1``."""
    host = netloc.rpartition("@")[2]
    return ("[" not in host and "]" not in host) or _BRACKETED_HOST.match(host) is not None


def _split(url: str) -> SplitResult:
    """``urlsplit`` with the port checked; the error carries no part of the URL.

    The ValueError urllib raises quotes the netloc (user and password), so it
    is not chained: the UrlError is raised outside the ``except`` block.
    """
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        pass
    else:
        if _brackets_hold_the_whole_host(split.netloc):
            return split
    raise UrlError(
        "cannot be read as a URL; check the port (a number from 0 to 65535) and the "
        "brackets around an IPv6 host, and percent-encode @ : / # ? % in the user "
        "name and password (or put the password in a variable and write ${NAME})."
    )


def _parsed(url: str) -> dict[str, Any]:
    """``dj_database_url.parse(url)`` as a plain dict that always has OPTIONS."""
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError:
        config = {}
    if not config:
        raise UrlError(
            "cannot be parsed as a database URL; percent-encode special characters in "
            "the user name and password."
        )
    config.setdefault("OPTIONS", {})
    return config


def _keep_socket_path_case(config: dict[str, Any], netloc: str) -> None:
    """urlsplit lower-cases the host; a unix-socket directory keeps its case."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return
    host = unquote(host.split(":", 1)[0])
    if host.startswith("/"):
        config["HOST"] = host


def _check_option_names(options: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Reject driver options that can only be a typo of a known parameter.

    The option name is part of the value, so messages name only the known
    parameter it resembles.
    """
    postgresql = is_postgresql(config)
    known = _POSTGRES_KNOWN if postgresql else RESERVED_PARAMETERS
    for name in options:
        lowered = name.lower()
        if lowered in RESERVED_PARAMETERS:
            raise UrlError(
                f"has the parameter {lowered} in upper or mixed case; write it in lower "
                f"case: {lowered}."
            )
        if postgresql and name in _POSTGRES_OPTIONS:
            continue
        close = _close_matches(lowered, known, n=1, cutoff=0.8)
        if close and close[0] != name:
            kind = "a PostgreSQL connection parameter" if postgresql else "a known parameter"
            raise UrlError(
                f"has a parameter that is not {kind} but is close to {close[0]}; "
                f"did you mean {close[0]}?"
            )


#: ``name=value`` inside an option's text: libpq's ``options=-c app.token=...``, a ``dsn=``
#: connection string, a MySQL ``init_command`` ``SET @key = '...'``.
#: A name starts a run of name characters (the lookbehind, and the skipped digits, dots and dashes
#: a name cannot start with): without that, a long run with no '=' costs quadratic time.
_EMBEDDED = re.compile(
    r"""(?<![\w.@-])(?:(?![A-Za-z_@])[\w.@-])*"""
    r"""([A-Za-z_@][\w.@-]*)\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?:\\.|[^\s\\])+)"""
)


def _embedded_secrets(text: str) -> list[tuple[int, int]]:
    """Spans of the values of ``name=value`` pairs in ``text`` whose name looks secret."""
    return [match.span(2) for match in _EMBEDDED.finditer(text) if SECRET_OPTION.search(match.group(1))]


def secret_values(config: Mapping[str, Any]) -> list[str]:
    """Every secret one alias's settings hold, as text: the password, secret options (any
    type), and secret ``name=value`` pairs inside other options' text."""
    found = [str(config["PASSWORD"])] if config.get("PASSWORD") not in (None, "") else []
    for key, value in (config.get("OPTIONS") or {}).items():
        if SECRET_OPTION.search(str(key)):
            if value not in (None, ""):
                found.append(str(value))
        elif isinstance(value, str):
            for start, end in _embedded_secrets(value):
                found.extend(_readings(value[start:end]))
    return list(dict.fromkeys(secret for secret in found if secret))


def _readings(token: str) -> list[str]:
    """What a ``name=value`` token's value may be to the server that reads it: the token itself,
    unquoted, unescaped (libpq's ``\\ ``), and cut at a ``;`` or ``,`` (a MySQL statement or a
    list ending there), so that a server's error quoting any of them is masked too."""
    token = token.strip("'\"")
    readings = [token, re.sub(r"\\(.)", r"\1", token)]
    for separator in ";,":
        readings.extend(reading.split(separator, 1)[0] for reading in list(readings))
    return readings


def _masked_text(text: str) -> str:
    for start, end in reversed(_embedded_secrets(text)):
        text = text[:start] + MASK + text[end:]
    return text


def mask(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one alias's settings fit to print: secrets replaced by ``***``.

    The password, every option whose name looks secret (whatever its type), and the
    secret ``name=value`` pairs inside other options' text (``options=-c app.token=...``,
    ``dsn=... password=...``).
    """
    shown = dict(config)
    if shown.get("PASSWORD") not in (None, ""):
        shown["PASSWORD"] = MASK
    options = dict(shown.get("OPTIONS") or {})
    for key, value in options.items():
        if SECRET_OPTION.search(str(key)):
            options[key] = MASK
        elif isinstance(value, str):
            options[key] = _masked_text(value)
    shown["OPTIONS"] = options
    return shown
