"""What the cross-database join guard adds to each query, against the same query without it.

The guard runs once per compiled SELECT (``SQLCompiler.get_from_clause``): a
dict lookup for the compiler's alias and one per table in the FROM clause.
Measured in one run, in a child process running the seed project
(tests/seed_project) on a local PostgreSQL server (SQLite files if none):

* the guard's own check on an already compiled query (µs per query);
* compiling ``Post.objects.filter(pk=...)`` and running it, with the guard
  installed and uninstalled (ratios; 1.00 means no measurable cost);
* that cost as a fraction of one local round trip (``SELECT 1``). Goal: a
  small fraction (under 5%) of a round trip.

Run: ``make bench`` or ``.venv/bin/python benchmarks/run.py join_guard``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "seed_project"
#: The guard's per-query cost must stay under this fraction of a local round trip.
GOAL_FRACTION = 0.05


def _best(statement: object, number: int, repeat: int = 7) -> float:
    """Best time per call in microseconds (the least disturbed of ``repeat`` runs)."""
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6  # type: ignore[arg-type]


def worker() -> None:
    """Runs inside the child: Django set up on the seed project; prints the timings as JSON."""
    import django
    from django.core.management import call_command

    django.setup()
    from blog.models import Comment, Post
    from django.contrib.auth.models import User
    from django.db import connections
    from django.test import override_settings

    from djcfg_env.orm import join_guard

    for alias in ("default", "blog_db"):
        call_command("migrate", database=alias, verbosity=0)
    user = User.objects.create(username="bench")
    post = Post.objects.create(title="bench", author=user)
    Comment.objects.create(post=post, author=user, body="bench")
    connection = connections["blog_db"]
    pk = post.pk

    def compile_simple() -> None:
        Post.objects.filter(pk=pk).query.get_compiler("blog_db").as_sql()

    def compile_join() -> None:  # a same-database join: two tables for the guard to look up
        Comment.objects.filter(post__title="bench").query.get_compiler("blog_db").as_sql()

    def run_query() -> None:
        list(Post.objects.filter(pk=pk))

    def round_trip() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    compiled = Comment.objects.filter(post__title="bench").query.get_compiler("blog_db")
    compiled.as_sql()
    run_query()  # connect, warm caches

    results: dict[str, float] = {}
    for _ in range(3):  # interleave with and without, keep the best of each
        for installed in (True, False):
            switch = override_settings(DJCFG_ENV={"JOIN_GUARD": installed})
            switch.enable()  # the switchboard installs or removes the guard
            suffix = "guarded" if installed else "plain"
            for name, function, number in (
                ("compile", compile_simple, 2000),
                ("compile_join", compile_join, 2000),
                ("query", run_query, 300),
            ):
                key = f"{name}_{suffix}"
                value = _best(function, number, repeat=3)
                results[key] = min(results.get(key, value), value)
            switch.disable()
    results["check"] = _best(lambda: join_guard.check_query(compiled), 20000)
    results["round_trip"] = _best(round_trip, 300)
    results["backend"] = connection.vendor  # type: ignore[assignment]
    print(json.dumps(results))


def _environment(tmp: Path) -> tuple[dict[str, str], object]:
    """The seed project's environment on PostgreSQL if a server answers, else SQLite files."""
    sys.path.insert(0, str(ROOT))
    from tests import pg

    env = {
        "SECRET_KEY": "bench-not-a-secret",
        "DJANGO_SETTINGS_MODULE": "seedsite.settings",
        "DB_ROUTE_BLOG": "blog_db",
        "DB_ROUTE_SHOP": "shop_db",
        "DB_ROUTE_ANALYTICS": "analytics",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(SEED)]),
        "PATH": os.environ.get("PATH", ""),
    }
    aliases = {"DATABASE_URL": "main", "DATABASE_URL_BLOG_DB": "blog", "DATABASE_URL_SHOP_DB": "shop",
               "DATABASE_URL_ANALYTICS": "analytics"}
    if pg.unavailable_reason() is None:
        databases = pg.PostgresDatabases()
        for variable, label in aliases.items():
            env[variable] = databases.url(databases.create(f"bench_{label}"))
        return env, databases
    for variable, label in aliases.items():
        env[variable] = f"sqlite:///{tmp / label}.sqlite3"
    return env, None


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        env, databases = _environment(Path(directory))
        env["DATABASE_URL_ANALYTICS"] += "?read_only=true"
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--worker"], env=env, cwd=SEED, capture_output=True,
                text=True, timeout=600, check=False,
            )
        finally:
            if databases is not None:
                databases.drop_all()  # type: ignore[attr-defined]
    if done.returncode != 0:
        print(f"join_guard benchmark failed:\n{done.stderr[-3000:]}")
        return 1
    r = json.loads(done.stdout.strip().splitlines()[-1])
    backend = "PostgreSQL" if r["backend"] == "postgresql" else "SQLite (no PostgreSQL server)"
    added = max(r["compile_guarded"] - r["compile_plain"], 0.0)
    fraction = r["check"] / r["round_trip"]
    print(f"join guard, seed project on {backend}, best of interleaved runs:")
    print(f"  guard check alone (2-table query, already compiled): {r['check']:.2f} us per query")
    print(f"  compile Post.objects.filter(pk=..):   guarded {r['compile_guarded']:.1f} us, "
          f"plain {r['compile_plain']:.1f} us, ratio {r['compile_guarded'] / r['compile_plain']:.3f}x "
          f"(+{added:.2f} us)")
    print(f"  compile Comment filter through post:  guarded {r['compile_join_guarded']:.1f} us, "
          f"plain {r['compile_join_plain']:.1f} us, ratio "
          f"{r['compile_join_guarded'] / r['compile_join_plain']:.3f}x")
    print(f"  run list(Post.objects.filter(pk=..)): guarded {r['query_guarded']:.1f} us, "
          f"plain {r['query_plain']:.1f} us, ratio {r['query_guarded'] / r['query_plain']:.3f}x")
    print(f"  local round trip (SELECT 1): {r['round_trip']:.1f} us; the guard check is "
          f"{fraction:.2%} of it (goal: under {GOAL_FRACTION:.0%})")
    ok = fraction < GOAL_FRACTION
    print(f"  {'OK' if ok else 'SLOWER THAN THE GOAL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        raise SystemExit(main())
