"""Cost of ``djcfg_env.load()`` for 10 and 100 aliases vs a hand-written loop.

The baseline is what people write by hand in settings.py: an environs ``Env``
and ``env.dj_db_url()`` for each ``DATABASE_URL*`` variable, plus the routes
dict. Both are measured in the same run, on the same environment:

* first load: in a fresh process, after ``import django, environs, marshmallow,
  dj_database_url`` (those imports are what any such settings.py pays), the time
  of ``import djcfg_env`` + the first ``load()`` (goal: <= 5 ms for 10 aliases,
  <= 20 ms for 100), next to the hand-written loop's first run;
* repeated load: ``load()`` called again and again in one process, as a ratio
  to the hand-written loop (goal: within 1.2x). ``load()`` caches what it
  parsed per URL; the last column shows, for reference, a repeated load with
  those caches emptied before every call.

Run: ``make bench`` or ``.venv/bin/python benchmarks/run.py load``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRESH_RUNS = 15

_CHILD = r"""
import json, os, sys, time
import django, environs, marshmallow, dj_database_url  # paid by any settings.py
which = sys.argv[1]
start = time.perf_counter()
if which == "djcfg":
    import djcfg_env
    djcfg_env.load(os.environ)
else:
    sys.path.insert(0, sys.argv[2])
    from bench_load import hand_written
    hand_written(os.environ)
print(json.dumps((time.perf_counter() - start) * 1000))
"""


def environment(aliases: int) -> dict[str, str]:
    """A realistic environment: PostgreSQL URLs with parameters, interpolated passwords, routes."""
    env = {
        "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db-main:5432/main?sslmode=require&conn_max_age=600",
        "DB_PASSWORD": "p@ss:w/rd#1",
        "SECRET_KEY": "bench-secret-key",
        "ALLOWED_HOSTS": "example.com,.example.org",
    }
    for index in range(1, aliases):
        env[f"DATABASE_URL_DB{index}"] = (
            f"postgres://app:${{DB_PASSWORD}}@db-{index}.internal:5432/db{index}"
            f"?conn_health_checks=true&connect_timeout=10"
        )
        env[f"DB_ROUTE_APP{index}"] = f"db{index}"
    return env


def hand_written(environ: dict[str, str] | os._Environ[str]) -> dict[str, object]:
    """What a careful settings.py does by hand with environs + dj-database-url."""
    from urllib.parse import quote

    import environs

    env = environs.Env()
    password = quote(environ["DB_PASSWORD"], safe="")
    databases = {}
    for name in sorted(environ):
        if name == "DATABASE_URL" or name.startswith("DATABASE_URL_"):
            alias = "default" if name == "DATABASE_URL" else name[13:].lower()
            os.environ[f"_BENCH_{name}"] = environ[name].replace("${DB_PASSWORD}", password)
            databases[alias] = env.dj_db_url(f"_BENCH_{name}")
    routes = {
        name[9:].lower(): environ[name] for name in environ if name.startswith("DB_ROUTE_")
    }
    return {
        "DATABASES": databases,
        "DATABASE_ROUTING_RULES": routes,
        "SECRET_KEY": env.str("SECRET_KEY"),
        "DEBUG": env.bool("DEBUG", False),
        "ALLOWED_HOSTS": env.list("ALLOWED_HOSTS", []),
    }


def fresh_process_ms(which: str, environ: dict[str, str]) -> float:
    child_env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}, **environ}
    child_env["PYTHONPATH"] = str(ROOT / "src")
    samples = []
    for _ in range(FRESH_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, which, str(Path(__file__).parent)],
            env=child_env, capture_output=True, text=True, check=True,
        ).stdout
        samples.append(json.loads(out))
    return statistics.median(samples)


def repeated_us(function, environ, number: int) -> float:
    function(environ)  # warm up
    best = min(timeit.repeat(lambda: function(environ), number=number, repeat=7))
    return best / number * 1e6


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    import djcfg_env

    goals = {10: 5.0, 100: 20.0}
    from djcfg_env.env import schema, urls

    def uncached(environ):
        schema._resolve.cache_clear()
        urls._compile.cache_clear()
        return djcfg_env.load(environ)

    print(f"{'aliases':>7}  {'first load (ms)':>16}  {'hand first (ms)':>15}  {'goal':>6}  "
          f"{'load() us':>10}  {'hand us':>9}  {'ratio':>6}  {'goal':>5}  {'uncached ratio':>14}")
    for aliases, goal in goals.items():
        environ = environment(aliases)
        first = fresh_process_ms("djcfg", environ)
        hand_first = fresh_process_ms("hand", environ)
        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            number = 2000 // aliases
            ours = repeated_us(djcfg_env.load, environ, number)
            hand = repeated_us(hand_written, environ, number)
            cold = repeated_us(uncached, environ, number)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        ratio = ours / hand
        print(
            f"{aliases:>7}  {first:>16.2f}  {hand_first:>15.2f}  {'<=' + str(int(goal)):>6}  "
            f"{ours:>10.0f}  {hand:>9.0f}  {ratio:>5.2f}x  {'<=1.2':>5}  {cold / hand:>13.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
