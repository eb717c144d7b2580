"""What ``migrate_all`` tells the release log: per-alias outcomes, the summary, the exit code.

Everything here is plain data and text. Every message that can come from a
database driver or a migration passes through :class:`Scrubber` first, so no
configured password (or other secret option) reaches the output.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from ..env.urls import MASK, secret_values

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_UNAVAILABLE",
    "EXIT_CODES_HELP",
    "Outcome",
    "AliasResult",
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
     lock was not obtained within --lock-timeout (or --wait ran out)
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


class Scrubber:
    """Replaces every configured secret in a text by ``***``: passwords, secret options, SECRET_KEY.

    Drivers put the host and user in their messages, not the password; this is
    the belt to that pair of braces, applied to every error text we print,
    including a password that appears URL-encoded.
    """

    def __init__(
        self, databases: Mapping[str, Mapping[str, Any]], others: Iterable[str | None] = ()
    ) -> None:
        """``others``: more secrets to mask, e.g. ``settings.SECRET_KEY``."""
        secrets: set[str] = {str(other) for other in others if other}
        for config in databases.values():
            secrets.update(secret_values(config))
        variants: set[str] = set()
        for secret in secrets:
            variants.add(secret)
            for encode in (quote, quote_plus):
                try:
                    variants.add(encode(secret, safe=""))
                except UnicodeEncodeError:  # undecodable bytes: the raw form is masked all the same
                    variants.add(encode(secret, safe="", errors="surrogateescape"))
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted((s for s in variants if len(s) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
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
