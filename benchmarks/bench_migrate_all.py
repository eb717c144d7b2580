"""migrate_all over 8 PostgreSQL (and 8 MariaDB) databases against Django's own baselines, in one run.

Run: ``.venv/bin/python benchmarks/run.py migrate_all`` (needs the PostgreSQL server
of the tests, ``DJCFG_TEST_PG_URL``; the benchmark makes and drops its own databases).
With the tests' MySQL/MariaDB server too (``DJCFG_TEST_MYSQL_URL``, ``.ci/mariadb-up``)
the same measurements get a MariaDB column; without one that column says it was skipped.

The project is tests/release_project with 8 aliases (default plus one per app).
Baselines, measured in the same run with the same interpreter and environment:

- ``check``: one ``manage.py check`` (Django's start-up plus the system checks);
- ``loop``: a shell-style loop of ``manage.py migrate --database X --noinput``
  over the 8 aliases, one process each, as release scripts without migrate_all do.

Goals (the issue's, on PostgreSQL): a no-op migrate_all <= 1.3x one check and >= 4x
faster than the no-op loop; a fresh migrate_all (8 empty databases) <= 0.35x the fresh
loop. The MariaDB column shows the same ratios, without goals (its DDL runs outside
transactions and dominates a fresh run). Timings are the median of a few repetitions;
``main()`` returns 1 if a goal is missed.
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import mysql, pg  # noqa: E402
from tests.conftest import clean_env  # noqa: E402

MANAGE = str(ROOT / "tests" / "release_project" / "manage.py")
APPS = ("catalog", "orders", "ledger", "inventory", "reviews", "audit", "flaky")
ALIASES = ("default", *APPS)
REPEAT = 7


@dataclass(frozen=True)
class Engine:
    """One server of the tests (tests/pg.py or tests/mysql.py) and how to name a database there."""

    label: str
    scheme: str
    server: ModuleType  # unavailable_reason(), execute(sql), _conninfo(name)
    quote: str
    drop_suffix: str = ""

    def create(self, name: str) -> None:
        self.server.execute(f"CREATE DATABASE {self.quote}{name}{self.quote}")

    def drop(self, name: str) -> None:
        self.server.execute(f"DROP DATABASE IF EXISTS {self.quote}{name}{self.quote}{self.drop_suffix}")

    def url(self, name: str) -> str:
        info = self.server._conninfo(name)
        return f"{self.scheme}://{info['user']}:{info['password']}@{info['host']}:{info['port']}/{name}"


POSTGRES = Engine("PostgreSQL", "postgres", pg, '"', " WITH (FORCE)")
MARIADB = Engine("MariaDB", "mysql", mysql, "`")


def _databases(engine: Engine, tag: str, made: list[str]) -> dict[str, str]:
    """8 fresh databases (alias -> name), remembered in ``made`` for dropping."""
    names: dict[str, str] = {}
    for alias in ALIASES:
        name = f"djcfgbench_{tag}_{secrets.token_hex(3)}_{alias}"[:63]
        engine.create(name)
        made.append(name)
        names[alias] = name
    return names


def _env(engine: Engine, names: dict[str, str]) -> dict[str, str]:
    env = {"SECRET_KEY": "bench-not-a-secret"}
    for alias, name in names.items():
        url = engine.url(name)
        env["DATABASE_URL" if alias == "default" else f"DATABASE_URL_{alias.upper()}"] = url
        if alias != "default":
            env[f"DB_ROUTE_{alias.upper()}"] = alias
    return clean_env(env)


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, MANAGE, *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _loop(env: dict[str, str]) -> None:
    for alias in ALIASES:
        _run(["migrate", "--database", alias, "--noinput", "-v", "0"], env)


def _measure(engine: Engine) -> dict[str, float]:
    """Every timing of one engine: check, no-op and fresh migrate_all and loop, in seconds."""
    made: list[str] = []
    try:
        # Fresh runs: each on its own 8 empty databases, alternating to even out noise.
        fresh_all: list[float] = []
        fresh_loop: list[float] = []
        env: dict[str, str] = {}
        env_loop: dict[str, str] = {}
        for _ in range(2):
            env = _env(engine, _databases(engine, "a", made))
            fresh_all.append(_timed(lambda: _run(["migrate_all", "--noinput", "-v", "0"], env)))  # noqa: B023
            env_loop = _env(engine, _databases(engine, "l", made))
            fresh_loop.append(_timed(lambda: _loop(env_loop)))  # noqa: B023
        # No-op runs on the now migrated databases, interleaved so that a change
        # in the machine's load affects the run and its baselines alike.
        checks: list[float] = []
        noops: list[float] = []
        loops: list[float] = []
        _run(["migrate_all", "--noinput", "-v", "0"], env)  # warm the file cache
        for i in range(REPEAT):
            checks.append(_timed(lambda: _run(["check"], env)))
            noops.append(_timed(lambda: _run(["migrate_all", "--noinput", "-v", "0"], env)))
            if i < 3:
                loops.append(_timed(lambda: _loop(env_loop)))
    finally:
        for name in made:
            engine.drop(name)
    return {
        "check": statistics.median(checks),
        "noop_all": statistics.median(noops),
        "noop_loop": statistics.median(loops),
        "fresh_all": min(fresh_all),
        "fresh_loop": min(fresh_loop),
    }


#: label, ratio of two timings, goal (PostgreSQL only), limit, whether the ratio must be at most it.
ROWS = (
    ("no-op migrate_all / one manage.py check", ("noop_all", "check"), "<= 1.30", 1.3, True),
    ("no-op loop of migrate / no-op migrate_all", ("noop_loop", "noop_all"), ">= 4.00", 4.0, False),
    ("fresh migrate_all / fresh loop of migrate", ("fresh_all", "fresh_loop"), "<= 0.35", 0.35, True),
)


def main() -> int:
    reason = POSTGRES.server.unavailable_reason()
    if reason is not None:
        print(f"skipped: needs PostgreSQL ({reason})")
        return 0
    results = {POSTGRES.label: _measure(POSTGRES)}
    mariadb_reason = MARIADB.server.unavailable_reason()
    if mariadb_reason is None:
        results[MARIADB.label] = _measure(MARIADB)
    print(f"8 databases per engine; medians of {REPEAT} (loop: 3; fresh: best of 2)")
    for label, t in results.items():
        print(
            f"  {label + ':':<11} manage.py check {t['check']:.3f}s | migrate_all no-op "
            f"{t['noop_all']:.3f}s, fresh {t['fresh_all']:.3f}s | loop of migrate no-op "
            f"{t['noop_loop']:.3f}s, fresh {t['fresh_loop']:.3f}s"
        )
    print(f"  {'':<44} {'PostgreSQL':>10}  {'(goal)':<16} {'MariaDB':>8}")
    missed = 0
    for label, (top, bottom), goal, limit, at_most in ROWS:
        pg_times = results[POSTGRES.label]
        ratio = pg_times[top] / pg_times[bottom]
        ok = ratio <= limit if at_most else ratio >= limit
        missed += not ok
        maria = results.get(MARIADB.label)
        column = f"{maria[top] / maria[bottom]:7.2f}x" if maria else "skipped"
        print(f"  {label:<44} {ratio:9.2f}x  ({goal}) {'ok' if ok else 'MISSED':<6} {column:>8}")
    if mariadb_reason is not None:
        print(f"  MariaDB column skipped: no MySQL/MariaDB server ({mariadb_reason}); run .ci/mariadb-up")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
