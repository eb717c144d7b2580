"""What ``migrate_all`` tells the release log: per-alias outcomes, the summary, the exit code.

Everything here is plain data and text. Every message that can come from a
database driver or a migration passes through :class:`Scrubber` first, so no
configured password (or other secret option) reaches the output.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..env.urls import MASK, secret_values

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_UNAVAILABLE",
    "EXIT_CODES_HELP",
    "Outcome",
    "AliasResult",
    "SHORT_SECRET",
    "Scrubber",
    "describe_database",
    "exit_code",
    "summary_lines",
]

#: Every selected alias is up to date (or, with --plan, the plan was printed).
EXIT_OK = 0
#: A migration failed, or --check found unapplied migrations.
EXIT_FAILED = 1
#: Nothing was attempted: usage error (unknown alias or app, bad flag), or system check errors.
EXIT_USAGE = 2
#: A database could not be reached, refused the login, or its lock was not obtained in time.
EXIT_UNAVAILABLE = 3

EXIT_CODES_HELP = """\
exit codes:
  0  every selected alias is up to date (--plan: the plan was printed)
  1  a migration failed, or --check found unapplied migrations
  2  nothing was attempted: a usage error (unknown alias or app, bad flag), or the
     system checks found errors (see --skip-checks)
  3  a database could not be reached, refused the login, or its migration
     lock (or a table lock a migration waited for) was not obtained within
     --lock-timeout (or --wait ran out)
  With --keep-going, when several happen, 1 wins over 3.
  A bad environment ends the run while Django loads the settings: exit 2, every
  problem listed. --traceback and --verbosity never change the exit code."""


class Outcome(enum.Enum):
    """What happened to one alias; ``code`` is its contribution to the exit code."""

    MIGRATED = ("migrated", EXIT_OK)
    UP_TO_DATE = ("up to date", EXIT_OK)
    PLANNED = ("planned", EXIT_OK)
    PENDING = ("unapplied migrations", EXIT_FAILED)
    READ_ONLY = ("skipped (read-only)", EXIT_OK)
    REPLICA = ("skipped (replica)", EXIT_OK)
    NOTHING_ROUTED = ("nothing to migrate (no selected app migrates here)", EXIT_OK)
    FAILED = ("FAILED", EXIT_FAILED)
    UNREACHABLE = ("UNREACHABLE", EXIT_UNAVAILABLE)
    LOCK_TIMEOUT = ("LOCK TIMEOUT", EXIT_UNAVAILABLE)
    NOT_ATTEMPTED = ("not attempted", EXIT_OK)

    def __init__(self, label: str, code: int) -> None:
        self.label = label
        self.code = code

    @property
    def is_problem(self) -> bool:
        return self in (Outcome.FAILED, Outcome.UNREACHABLE, Outcome.LOCK_TIMEOUT)


@dataclass
class AliasResult:
    """The outcome of one alias, as reported in the summary."""

    alias: str
    outcome: Outcome
    #: Migrations of the apps that live here applied by this copy ("app.name"), in order.
    applied: list[str] = field(default_factory=list)
    #: Migrations of apps that live on other aliases, recorded here by this copy (as
    #: ``migrate --database`` records them), in order.
    recorded: list[str] = field(default_factory=list)
    #: Migrations of the apps that live here not applied yet (--plan / --check).
    pending: list[str] = field(default_factory=list)
    #: Migrations of apps that live elsewhere not recorded here yet (--plan / --check).
    pending_records: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The scrubbed error, for the problem outcomes.
    error: str | None = None
    #: The migration that was running when it failed, if any.
    migration: str | None = None
    #: The alias's engine (Django's ``connection.vendor``); looked up when not given.
    vendor: str | None = None
    #: The primary this alias replicates (``replica_of``), for :attr:`Outcome.REPLICA`.
    replica_of: str | None = None


#: Secrets shorter than this are masked only where they stand as a value (see :class:`Scrubber`):
#: masking every ``a`` or ``42`` in a text would destroy it.
SHORT_SECRET = 3

_ENTITIES = {
    "&": ("&amp;", "&#38;"),
    "<": ("&lt;", "&#60;"),
    ">": ("&gt;", "&#62;"),
    '"': ("&quot;", "&#34;", "&#x22;"),
    "'": ("&#x27;", "&#39;", "&apos;"),
}


def _hex_digit(value: int) -> str:
    return str(value) if value < 10 else f"[{value:X}{value:x}]"


def _spellings(char: str) -> list[str]:
    """Every way one character of a secret may be written in a text we print, as regex fragments.

    As is, percent-encoded (either case; ``+`` for a space), HTML-escaped (Django's pages),
    and backslash-escaped (the ``repr()`` or JSON of a string holding it).
    """
    spellings = [re.escape(char)]
    data = char.encode("utf-8", errors="surrogateescape")
    spellings.append("".join(f"%{_hex_digit(byte >> 4)}{_hex_digit(byte & 15)}" for byte in data))
    if char == " ":
        spellings.append(r"\+")
    spellings.extend(re.escape(entity) for entity in _ENTITIES.get(char, ()))
    if char in "\\'\"":  # a repr's backslash before it, the quote maybe HTML-escaped too
        spellings.extend(re.escape("\\" + form) for form in (char, *_ENTITIES.get(char, ())))
    escaped = repr(char)[1:-1]
    if escaped != char:
        spellings.append(re.escape(escaped))
    if ord(char) > 0x7E:  # JSON's \u escapes
        spellings.append(re.escape(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"))
    return list(dict.fromkeys(spellings))


def _pattern(secret: str) -> str:
    """A regex matching ``secret`` however each of its characters is written."""
    return "".join(f"(?:{'|'.join(_spellings(char))})" for char in secret)


#: Quotes around a value, as written or escaped (HTML, percent-encoding, a repr's backslash).
_QUOTES = r"""['"`]|&quot;|&\#34;|&\#x22;|&\#x27;|&\#39;|&apos;|%2[27]|\\['"]"""
#: Where a short secret stands as a value: after a secret-looking name (``password=x``,
#: ``sslpassword 42``), after ``=`` or ``:`` (``user:x@host``, ``"password": "x"``), or
#: inside quotes (``"x"``). A quoted value must end at the same quote; any other where a
#: value ends (a space, a quote, ``@ ; , & ) } ] < > / ? # % : \``, a full stop, the end).
_BEFORE_VALUE = (
    r"(?P<pre>(?:(?i:pass|secret|token|key|credential)\w*['\"]?[ \t]{0,2}[=:]?[ \t]{0,2}"
    rf"|[=:][ \t]{{0,2}}|%3[DdAa])(?P<q>{_QUOTES})?|(?<!\w)(?P<q2>{_QUOTES}))"
)
_AFTER_VALUE = r"""(?(q)(?=(?P=q))|(?(q2)(?=(?P=q2))|(?=$|[\s'"`@;,&)}\]<>/?#%:\\]|\.(?:\s|$))))"""


class Scrubber:
    """Replaces every configured secret in a text: passwords, secret options, SECRET_KEY.

    Drivers put the host and user in their messages, not the password; this is
    the belt to that pair of braces, applied to every error text we print. A
    secret is found however it is written: as is, percent-encoded (any mix of
    encoded and plain characters), HTML-escaped or backslash-escaped, and
    whatever its type in the settings (``sslpassword=42`` is the text ``42``).
    Secrets of :data:`SHORT_SECRET` characters or more are masked wherever they
    appear. Shorter ones (a one-character password) are masked where they stand
    as a value: the whole text, after a secret-looking name (``password=x``),
    after ``=`` or ``:`` (``user:x@host``), or inside quotes, and only when the
    value ends there; other text that merely contains the character is left as
    it is.
    """

    def __init__(
        self,
        databases: Mapping[str, Mapping[str, Any]],
        others: Iterable[object] = (),
        *,
        substitute: str = MASK,
    ) -> None:
        """``others``: more secrets to mask, e.g. ``settings.SECRET_KEY``; ``substitute``: what replaces them."""
        secrets = {str(other) for other in others if other is not None}
        for config in databases.values():
            secrets.update(secret_values(config))
        secrets.discard("")
        #: Every secret, as text.
        self.secrets = frozenset(secrets)
        self.substitute = substitute
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(secrets, key=lambda secret: (-len(secret), secret))
        anywhere = "|".join(_pattern(secret) for secret in ordered if len(secret) >= SHORT_SECRET)
        short = "|".join(_pattern(secret) for secret in ordered if len(secret) < SHORT_SECRET)
        self._anywhere = re.compile(anywhere) if anywhere else None
        self._whole = re.compile(rf"\s*(?:{short})\s*") if short else None
        self._as_value = re.compile(rf"{_BEFORE_VALUE}(?:{short}){_AFTER_VALUE}") if short else None

    def __call__(self, text: str) -> str:
        if self._anywhere is not None:
            text = self._anywhere.sub(lambda match: self.substitute, text)
        if self._whole is not None:
            if self._whole.fullmatch(text):
                return self.substitute
            assert self._as_value is not None
            text = self._as_value.sub(lambda match: match.group("pre") + self.substitute, text)
        return text


def describe_database(vendor: str, config: Mapping[str, Any]) -> str:
    """``engine host:port/name`` for a log line: never the user's password."""
    name = str(config.get("NAME") or "")
    if vendor == "sqlite":
        return f"sqlite {name or ':memory:'}"
    host = str(config.get("HOST") or "localhost")
    port = str(config.get("PORT") or "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    where = f"{host}:{port}" if port else host
    return f"{vendor} {where}/{name}"


def exit_code(results: Iterable[AliasResult]) -> int:
    """0, 1 or 3: the worst outcome, where a failure (1) wins over unavailability (3)."""
    codes = {result.outcome.code for result in results}
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    if EXIT_UNAVAILABLE in codes:
        return EXIT_UNAVAILABLE
    return EXIT_OK


def _names(results: Iterable[AliasResult]) -> str:
    return ", ".join(result.alias for result in results) or "none"


def _replicas(results: Iterable[AliasResult]) -> str:
    """``default_replica: replica of default; ...``: each skipped replica and its primary."""
    return "; ".join(f"{result.alias}: replica of {result.replica_of}" for result in results)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_lines(
    results: list[AliasResult], seconds: float, mode: str, *, stopped_early: bool = True
) -> list[str]:
    """The final summary: one line when all is well, a block naming every alias otherwise.

    ``mode`` is ``"migrate"``, ``"plan"`` or ``"check"``; ``stopped_early`` says
    the not-attempted aliases were left because of a failure (not --wait).
    """
    code = exit_code(results)
    by: dict[Outcome, list[AliasResult]] = {}
    for result in results:
        by.setdefault(result.outcome, []).append(result)
    counts = []
    for outcome, word in (
        (Outcome.MIGRATED, "migrated"),
        (Outcome.PLANNED, "with migrations to apply"),
        (Outcome.PENDING, "with unapplied migrations"),
        (Outcome.UP_TO_DATE, "up to date"),
        (Outcome.NOTHING_ROUTED, "with nothing routed"),
        (Outcome.READ_ONLY, "skipped (read-only)"),
    ):
        if by.get(outcome):
            counts.append(f"{len(by[outcome])} {word}")
    if by.get(Outcome.REPLICA):
        counts.append(f"{len(by[Outcome.REPLICA])} skipped ({_replicas(by[Outcome.REPLICA])})")
    took = f"in {seconds:.2f}s"
    if code == EXIT_OK:
        what = {"migrate": "ok", "plan": "plan only, nothing changed", "check": "ok"}[mode]
        return [f"migrate_all: {what}: {', '.join(counts) or 'no aliases'} {took}"]
    if mode == "check" and code == EXIT_FAILED and not any(r.outcome.is_problem for r in results):
        return [
            f"migrate_all: check failed (exit 1): {_names(by.get(Outcome.PENDING, []))} "
            f"{'has' if len(by.get(Outcome.PENDING, [])) == 1 else 'have'} unapplied "
            f"migrations; run migrate_all to apply them. ({', '.join(counts)} {took})"
        ]
    done = [
        r for r in results
        if r.outcome in (Outcome.MIGRATED, Outcome.UP_TO_DATE, Outcome.NOTHING_ROUTED,
                         Outcome.PLANNED, Outcome.PENDING)
    ]
    problems = [r for r in results if r.outcome.is_problem]
    lines = [f"migrate_all: FAILED (exit {code}) {took}"]
    lines.append(f"  done: {_names(done)}")
    for result in problems:
        where = f" in {result.migration}" if result.migration else ""
        lines.append(f"  {result.outcome.label.lower()}: {result.alias}{where}: {result.error}")
    if by.get(Outcome.READ_ONLY):
        lines.append(f"  skipped (read-only): {_names(by[Outcome.READ_ONLY])}")
    if by.get(Outcome.REPLICA):
        lines.append(f"  skipped: {_replicas(by[Outcome.REPLICA])}")
    lines.append(f"  not attempted: {_names(by.get(Outcome.NOT_ATTEMPTED, []))}")
    if by.get(Outcome.FAILED):
        lines.append(_failure_advice(by[Outcome.FAILED]))
    if any(r.outcome in (Outcome.UNREACHABLE, Outcome.LOCK_TIMEOUT) for r in problems):
        lines.append(
            "  Unreachable or locked aliases were not changed: check the host, port, user "
            "and password of their DATABASE_URL* variables (or wait for the copy holding "
            "the lock), then run migrate_all again; --wait SECONDS waits for a database "
            "that is still starting."
        )
    if by.get(Outcome.NOT_ATTEMPTED) and stopped_early:
        lines.append("  --keep-going migrates the remaining aliases even after a failure.")
    return lines


#: Engines whose schema changes run inside the migration's transaction (can_rollback_ddl).
_TRANSACTIONAL_DDL = frozenset({"postgresql", "sqlite"})
_ENGINE_NAMES = {"mysql": "MySQL/MariaDB", "oracle": "Oracle"}


def _vendor(result: AliasResult) -> str:
    """The failed alias's engine: as reported, else from Django's connection handler."""
    if result.vendor:
        return result.vendor
    try:
        from django.db import connections

        return str(connections[result.alias].vendor)
    except Exception:  # noqa: BLE001 - unknown: the advice then covers every case
        return ""


def _failure_advice(failed: list[AliasResult]) -> str:
    """What a failed migration left behind, said per kind of engine."""
    rolled_back = [r for r in failed if _vendor(r) in _TRANSACTIONAL_DDL]
    left: dict[str, list[str]] = {}
    for result in failed:
        vendor = _vendor(result)
        if vendor not in _TRANSACTIONAL_DDL:
            left.setdefault(_ENGINE_NAMES.get(vendor, vendor or "other engines"), []).append(result.alias)
    parts = []
    if rolled_back:
        parts.append(
            "on PostgreSQL and SQLite each migration runs in a transaction, so the failing "
            "one was rolled back and the migrations before it stay applied"
        )
    for engine, aliases in left.items():
        parts.append(
            f"on {engine} ({', '.join(aliases)}) schema changes are not transactional: the "
            "tables (and columns, indexes) the failing migration created before it failed are "
            "still there and it is not recorded, so running it again fails on them; drop "
            "them by hand before retrying (the migrations before it stay applied)"
        )
    return (
        f"  A failed alias may need attention: {'; '.join(parts)}. Fix the cause, then run "
        "migrate_all again: it picks up where this run stopped."
    )


def count_phrase(n: int) -> str:
    """``"1 migration"`` / ``"3 migrations"``."""
    return _count(n, "migration")
