"""``manage.py migrate_all``: every database migrated in one process, for a release phase.

A thin adapter: the flags are parsed here, the work is :class:`djcfg_env.release.run.Release`.
Exit codes: :data:`djcfg_env.release.report.EXIT_CODES_HELP`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
    SystemCheckError,
)

from djcfg_env.release.plan import UsageError
from djcfg_env.release.report import EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE
from djcfg_env.release.run import DEFAULT_LOCK_TIMEOUT, Release


def _seconds(text: str) -> float:
    """argparse type for a number of seconds >= 0 (a bad value is a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds >= 0")
    return value


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description and exit codes kept as written."""


class Command(BaseCommand):
    help = (
        "Migrate every database of the project in one process, for a release phase.\n"
        "\n"
        "Migrates 'default' first, then every other writable alias sorted by name, each\n"
        "with the apps the router lets migrate there; read-only aliases and replicas\n"
        "(replica_of) are skipped.\n"
        "Each alias is migrated while holding a lock in its database, so several copies\n"
        "started at once apply each migration exactly once. Never creates migrations."
    )

    # The system checks run in handle(), as migrate runs them: errors stop the release
    # with exit 2 before anything is migrated; warnings are printed and do not.
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs["formatter_class"] = _HelpFormatter
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            action="append",
            dest="databases",
            metavar="ALIAS",
            help="Migrate only this alias (repeatable). Default: every writable alias.",
        )
        parser.add_argument(
            "--app",
            action="append",
            dest="apps",
            metavar="LABEL",
            help="Migrate only this app label (repeatable), on the alias(es) it is routed to.",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--plan",
            action="store_true",
            help="Print, per alias, the migrations that would be applied, in order; change nothing.",
        )
        mode.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; exit 1 if any alias has unapplied migrations, 0 otherwise.",
        )
        parser.add_argument(
            "--wait",
            type=_seconds,
            default=None,
            metavar="SECONDS",
            help="First wait, with back-off, until every selected database to migrate accepts "
            "connections; give up after SECONDS (exit 3, nothing migrated). Each attempt has "
            "its own connect timeout within what is left (at least 2s), so a server that "
            "never answers cannot outlast it.",
        )
        parser.add_argument(
            "--wait-replicas",
            action="store_true",
            help="With --wait: wait for the selected replicas (replica_of) too (they are never "
            "migrated); without --wait it is a usage error (exit 2).",
        )
        parser.add_argument(
            "--lock-timeout",
            type=_seconds,
            default=DEFAULT_LOCK_TIMEOUT,
            metavar="SECONDS",
            help="How long to wait for another copy holding an alias's migration lock "
            f"(default {DEFAULT_LOCK_TIMEOUT:g}); then exit 3. Also bounds each wait of a "
            "migration for a table lock (at least 1s).",
        )
        parser.add_argument(
            "--keep-going",
            action="store_true",
            help="After a failed alias, go on with the remaining ones (default: stop).",
        )
        parser.add_argument(
            "--skip-checks",
            action="store_true",
            help="Skip the system checks (by default they run first, and an error stops the "
            "release with exit 2 before anything is migrated).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Tells Django to NOT prompt the user for input of any kind (passed to "
            "the post_migrate handlers, as migrate does).",
        )

    def run_from_argv(self, argv: list[str]) -> None:
        """Django's, except that ``--traceback`` keeps the exit code (it re-raises, exiting 1)."""
        try:
            super().run_from_argv(argv)
        except CommandError as error:
            # Only reached with --traceback: print it, then exit with the command's own code.
            traceback.print_exception(type(error), error, error.__traceback__)
            sys.exit(error.returncode)

    def handle(self, *args: Any, **options: Any) -> None:
        mode = "plan" if options["plan"] else "check" if options["check"] else "migrate"
        if not options["skip_checks"]:
            # As migrate does, minus the database-tagged checks (they would connect
            # before --wait and the exit-3 handling had a chance).
            try:
                self.check()
            except SystemCheckError as error:
                self.stderr.write(str(error))
                raise CommandError(
                    "migrate_all: exit 2: the system checks found errors (listed above); nothing "
                    "was migrated. Fix them, or pass --skip-checks.",
                    returncode=EXIT_USAGE,
                ) from None
        release = Release(
            stdout=self.stdout, style=self.style,
            verbosity=options["verbosity"], interactive=options["interactive"],
        )
        try:
            code = release.run(**options)
        except UsageError as error:
            raise CommandError(str(error), returncode=EXIT_USAGE) from None
        if code != EXIT_OK:
            reason = {
                1: "unapplied migrations" if mode == "check" else "a migration failed",
                3: "a database was unavailable",
            }[code]
            raise CommandError(f"migrate_all: exit {code}: {reason}; see the summary above.", returncode=code)
