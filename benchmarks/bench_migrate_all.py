"""migrate_all over 8 PostgreSQL databases against Django's own baselines, in one run.

Run: ``.venv/bin/python benchmarks/run.py migrate_all`` (needs the PostgreSQL server
of the tests, ``DJCFG_TEST_PG_URL``; the benchmark makes and drops its own databases).

The project is tests/release_project with 8 aliases (default plus one per app).
Baselines, measured in the same run with the same interpreter and environment:

- ``check``: one ``manage.py check`` (Django's start-up plus the system checks);
- ``loop``: a shell-style loop of ``manage.py migrate --database X --noinput``
  over the 8 aliases, one process each, as release scripts without migrate_all do.

Goals (the issue's): a no-op migrate_all <= 1.3x one check and >= 4x faster than the
no-op loop; a fresh migrate_all (8 empty databases) <= 0.35x the fresh loop.
Timings are the median of a few repetitions; ``main()`` returns 1 if a goal is missed.
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import pg  # noqa: E402
from tests.conftest import clean_env  # noqa: E402

MANAGE = str(ROOT / "tests" / "release_project" / "manage.py")
APPS = ("catalog", "orders", "ledger", "inventory", "reviews", "audit", "flaky")
ALIASES = ("default", *APPS)
REPEAT = 7


def _databases(tag: str, made: list[str]) -> dict[str, str]:
    """8 fresh databases (alias -> name), remembered in ``made`` for dropping."""
    names: dict[str, str] = {}
    for alias in ALIASES:
        name = f"djcfgbench_{tag}_{secrets.token_hex(3)}_{alias}"[:63]
        pg.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        names[alias] = name
    return names


def _env(names: dict[str, str]) -> dict[str, str]:
    env = {"SECRET_KEY": "bench-not-a-secret"}
    for alias, name in names.items():
        info = pg._conninfo(name)
        url = f"postgres://{info['user']}:{info['password']}@{info['host']}:{info['port']}/{name}"
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


def main() -> int:
    reason = pg.unavailable_reason()
    if reason is not None:
        print(f"skipped: needs PostgreSQL ({reason})")
        return 0
    made: list[str] = []
    try:
        # Fresh runs: each on its own 8 empty databases, alternating to even out noise.
        fresh_all: list[float] = []
        fresh_loop: list[float] = []
        env: dict[str, str] = {}
        env_loop: dict[str, str] = {}
        for _ in range(2):
            env = _env(_databases("a", made))
            fresh_all.append(_timed(lambda: _run(["migrate_all", "--noinput", "-v", "0"], env)))  # noqa: B023
            env_loop = _env(_databases("l", made))
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
        check = statistics.median(checks)
        noop_all = statistics.median(noops)
        noop_loop = statistics.median(loops)
    finally:
        for name in made:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    fresh_a, fresh_l = min(fresh_all), min(fresh_loop)
    rows = [
        ("no-op migrate_all / one manage.py check", noop_all / check, "<= 1.30", 1.3, True),
        ("no-op loop of migrate / no-op migrate_all", noop_loop / noop_all, ">= 4.00", 4.0, False),
        ("fresh migrate_all / fresh loop of migrate", fresh_a / fresh_l, "<= 0.35", 0.35, True),
    ]
    print(f"8 PostgreSQL databases; medians of {REPEAT} (loop: 3; fresh: best of 2)")
    print(
        f"  manage.py check {check:.3f}s | migrate_all no-op {noop_all:.3f}s, fresh {fresh_a:.3f}s"
        f" | loop of migrate no-op {noop_loop:.3f}s, fresh {fresh_l:.3f}s"
    )
    missed = 0
    for label, ratio, goal, limit, at_most in rows:
        ok = ratio <= limit if at_most else ratio >= limit
        missed += not ok
        print(f"  {label:<44} {ratio:6.2f}x  (goal {goal})  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
