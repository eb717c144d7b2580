"""What the DJCFG_ENV switches cost a project: a mixed ORM workload, every switch on against off.

Run: ``.venv/bin/python benchmarks/run.py switches`` (``make bench`` runs every
benchmark). It needs the PostgreSQL server of the tests (``DJCFG_TEST_PG_URL``,
default ``postgres://djcfg:djcfg@127.0.0.1:5432/postgres``; ``make postgres``),
and says "skipped" without one. It makes its own two databases and drops them
at the end.

The project is benchmarks/switch_project: ``default`` (auth, contenttypes and
the ``notes`` app), ``blog_db`` (the ``blog`` app, ``DB_ROUTE_BLOG=blog_db``:
posts with a ``ForeignKey(User, CASCADE, db_constraint=False)``, and their
comments) and ``replica``, ``default``'s database again with
``?read_only=true``, so that READ_ONLY_GUARD is really installed (it wraps
``save``/``delete``/``update``/... for every alias, writable ones too). Two
ratios, in one run:

1. Within one database (``notes`` on ``default``): create, ``bulk_create``, a
   many-to-many ``add``, read by pk, ``select_related``, ``prefetch_related``,
   a filter through relations, ``update()``, ``save()`` and a ``delete()`` that
   cascades (to the notes and their labels), the same code with every switch
   on and with every switch off (``override_settings(DJCFG_ENV={key: False,
   ...})``: Django's own methods). Goal: at most 1.03x.
2. Across two databases: create a user and posts for it
   (``user.blog_posts.create()``), read them through the reverse manager,
   ``prefetch_related`` of the posts' author and of the user's posts, and
   ``user.delete()`` cascading into ``blog_db``, every switch on; against the
   same work by hand with every switch off: ``using()`` everywhere, and the
   delete in a transaction on each alias as the feature does (the posts on
   ``blog_db``, then the user's rows on ``default``; Django's own
   ``user.delete()`` would look for the posts on ``default``). Goal: at most 1.5x.

Before timing, the child checks that every switch is installed when on and none
when off, and that both variants of each workload send as many queries, return
the same results and leave the same rows in every database (read with SQL on
the driver's connections, not through the ORM). It also counts the Python
calls per iteration of each variant (cProfile: no clock involved, so the same
on a busy machine) and lists the djcfg-env functions the switches add.

Timing: 60 rounds; each runs the two variants of a workload back to back (in
alternating order), 5 timed iterations each, after 2 untimed ones that let
CPython re-specialize what the switch just replaced. Each variant's time is the
mean of its faster half of iterations (the best rounds, the ones the machine's
other work disturbed least; unbiased for a cost that is the same in every
iteration). The databases are made with ``synchronous_commit=off``: the quicker
each query, the more a cost in Python shows, so the ratios are an upper bound of
what a project with a real disk and network pays. ``main()`` returns 1 when a
goal is missed (on a busy machine, run it again).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "switch_project"
#: Within one database: every switch on / every switch off, at most this.
GOAL_LOCAL = 1.03
#: Across two databases: the features / the same work by hand with using(), at most this.
GOAL_CROSS = 1.5
#: Rounds: each runs both variants of a workload back to back, in alternating order.
ROUNDS = 60
#: Timed iterations of a workload per variant and round, after WARMUP untimed ones.
ITERATIONS = 5
WARMUP = 2


# -- the child: Django set up on benchmarks/switch_project -------------------------------------


def worker() -> None:
    """Checks the variants, counts their calls, times them; prints the results as JSON, last line."""
    import contextlib
    import cProfile
    import gc
    import pstats
    import time
    from collections import Counter
    from collections.abc import Callable, Iterator
    from typing import Any

    import django

    django.setup()
    from blog.models import Comment, Post
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connections, transaction
    from django.db.models import Prefetch
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from notes.models import Label, Note, Notebook

    from djcfg_env.orm import switches

    for alias in ("default", "blog_db"):
        call_command("migrate", database=alias, run_syncdb=True, verbosity=0)
    label = Label.objects.create(name="important")
    keys = switches.keys()

    @contextlib.contextmanager
    def switched(on: bool) -> Iterator[None]:
        """Every switch on, or every one off (the switchboard re-applies), and checked."""
        with override_settings(DJCFG_ENV=dict.fromkeys(keys, on)):
            present = switches.installed()
            expected = frozenset(keys) if on else frozenset()
            assert present == expected, f"switches {'on' if on else 'off'}: installed {sorted(present)}"
            yield

    def counts(deleted: tuple[int, dict[str, int]]) -> list[tuple[str, int]]:
        """A delete's counts per model, without the zeros Django reports for empty fast deletes."""
        return sorted((model, count) for model, count in deleted[1].items() if count)

    # -- the workloads: each iteration leaves the databases as it found them --------------

    def local(i: int, snap: Callable[[], None] | None = None) -> list[Any]:
        """Within one database (``default``): the same code, switches on and off."""
        out: list[Any] = []
        notebook = Notebook.objects.create(title=f"notebook {i}")
        notes = Note.objects.bulk_create(
            [Note(notebook=notebook, text=f"note {i}.{k}", rank=k) for k in range(5)]
        )
        notes[0].labels.add(label)
        out.append(Notebook.objects.get(pk=notebook.pk).title)
        out.append([
            (note.text, note.notebook.title)
            for note in Note.objects.filter(notebook=notebook).select_related("notebook").order_by("rank")
        ])
        book = Notebook.objects.filter(pk=notebook.pk).prefetch_related("notes").get()
        out.append(sorted(note.text for note in book.notes.all()))
        out.append(list(
            Note.objects.filter(notebook__title=notebook.title, labels=label).values_list("text", flat=True)
        ))
        out.append(Note.objects.filter(notebook=notebook, rank__lt=2).update(text=f"edited {i}"))
        notebook.title = f"notebook {i} renamed"
        notebook.save()
        if snap is not None:
            snap()
        out.append(counts(notebook.delete()))
        return out

    def cross_features(i: int, snap: Callable[[], None] | None = None) -> list[Any]:
        """Across two databases, written as the features let a project write it (switches on)."""
        out: list[Any] = []
        user = User.objects.create(username=f"user{i}")
        posts = [user.blog_posts.create(title=f"post {i}.{k}") for k in range(3)]
        Comment.objects.bulk_create([Comment(post=posts[0], body=f"comment {i}.{k}") for k in range(2)])
        out.append(sorted(post.title for post in user.blog_posts.all()))
        out.append([
            (post.title, post.author.username)
            for post in Post.objects.filter(author=user).prefetch_related("author").order_by("pk")
        ])
        again = User.objects.filter(pk=user.pk).prefetch_related("blog_posts").get()
        out.append(sorted(post.title for post in again.blog_posts.all()))
        if snap is not None:
            snap()
        out.append(counts(user.delete()))
        return out

    def cross_by_hand(i: int, snap: Callable[[], None] | None = None) -> list[Any]:
        """The same work by hand, every alias named with using() (switches off)."""
        out: list[Any] = []
        user = User.objects.using("default").create(username=f"user{i}")
        posts = [Post.objects.using("blog_db").create(author=user, title=f"post {i}.{k}") for k in range(3)]
        Comment.objects.using("blog_db").bulk_create(
            [Comment(post=posts[0], body=f"comment {i}.{k}") for k in range(2)]
        )
        out.append(sorted(post.title for post in Post.objects.using("blog_db").filter(author_id=user.pk)))
        authors = Prefetch("author", queryset=User.objects.using("default"))
        out.append([
            (post.title, post.author.username)
            for post in Post.objects.using("blog_db").filter(author_id=user.pk)
            .prefetch_related(authors).order_by("pk")
        ])
        posts_of = Prefetch("blog_posts", queryset=Post.objects.using("blog_db"))
        again = User.objects.using("default").filter(pk=user.pk).prefetch_related(posts_of).get()
        out.append(sorted(post.title for post in again.blog_posts.all()))
        if snap is not None:
            snap()
        # As CROSS_DATABASE_DELETE does: a transaction on each alias, blog_db's rows first.
        with transaction.atomic(using="default", savepoint=False), \
                transaction.atomic(using="blog_db", savepoint=False):
            deleted = Counter(Post.objects.using("blog_db").filter(author_id=user.pk).delete()[1])
            user.groups.clear()
            user.user_permissions.clear()
            # Not user.delete(): Django's collector would look for blog_post on default.
            deleted["auth.User"] += User.objects.using("default").filter(pk=user.pk)._raw_delete("default")
        out.append(counts((0, deleted)))
        return out

    # -- honesty: the same queries, results and rows in both variants -----------------------

    def rows(alias: str, sql: str) -> list[tuple[Any, ...]]:
        """Rows read on the driver's connection: neither the ORM nor a query capture sees it."""
        connection = connections[alias]
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

    def state() -> dict[str, Any]:
        """Every row the workloads touch, ids replaced by what they point to."""
        users = dict(rows("default", "SELECT id, username FROM auth_user"))
        posts = rows("blog_db", "SELECT title, author_id FROM blog_post")
        return {
            "users": sorted(users.values()),
            "notebooks": rows("default", "SELECT title FROM notes_notebook ORDER BY title"),
            "notes": rows(
                "default",
                "SELECT b.title, n.text, n.rank, l.name FROM notes_note n "
                "JOIN notes_notebook b ON b.id = n.notebook_id "
                "LEFT JOIN notes_note_labels nl ON nl.note_id = n.id "
                "LEFT JOIN notes_label l ON l.id = nl.label_id ORDER BY n.text, l.name",
            ),
            "labels": rows("default", "SELECT name FROM notes_label ORDER BY name"),
            "posts": sorted((title, users.get(author)) for title, author in posts),
            "comments": rows(
                "blog_db",
                "SELECT p.title, c.body FROM blog_comment c JOIN blog_post p ON p.id = c.post_id "
                "ORDER BY c.body",
            ),
        }

    def observe(on: bool, work: Callable[..., list[Any]]) -> dict[str, Any]:
        """One iteration: its results, its queries per alias, the rows before its delete and after."""
        seen: list[dict[str, Any]] = []
        with switched(on), CaptureQueriesContext(connections["default"]) as on_default, \
                CaptureQueriesContext(connections["blog_db"]) as on_blog:
            results = work(0, snap=lambda: seen.append(state()))
        seen.append(state())
        return {
            "results": results,
            "queries": {"default": len(on_default), "blog_db": len(on_blog)},
            "before_delete": seen[0],
            "after": seen[1],
        }

    checked: dict[str, Any] = {}
    for name, plan in {
        "local": ((True, local), (False, local)),
        "cross": ((True, cross_features), (False, cross_by_hand)),
    }.items():
        first, second = (observe(on, work) for on, work in plan)
        for part in ("queries", "results", "before_delete", "after"):
            assert first[part] == second[part], f"{name}: {part} differ:\n{first[part]}\n{second[part]}"
        assert first["before_delete"]["notes" if name == "local" else "comments"], f"{name}: nothing made"
        after = first["after"]
        assert after["notebooks"] == after["notes"] == after["posts"] == after["comments"] == [], name
        checked[name] = {"queries": first["queries"], "deleted": first["results"][-1]}

    # -- calls and timings --------------------------------------------------------------------

    serial = iter(range(1, 10**9))

    def calls(on: bool, work: Callable[..., list[Any]]) -> dict[str, float]:
        """Python function calls per iteration, by function (deterministic: no clock involved)."""
        with switched(on):
            for _ in range(WARMUP):
                work(next(serial))
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(ITERATIONS):
                work(next(serial))
            profile.disable()
        counted: Counter[str] = Counter()
        for (path, _line, function), (_, number, *_rest) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
            where = path.replace(os.sep, "/").split("/src/", 1)[-1].split("site-packages/", 1)[-1]
            counted[f"{where.removesuffix('.py').replace('/', '.')}.{function}"] += number
        return {name: number / ITERATIONS for name, number in counted.items()}

    def batch(on: bool, work: Callable[..., list[Any]]) -> list[float]:
        """Microseconds of each of ITERATIONS iterations, after WARMUP untimed ones; gc paused.

        The untimed iterations let CPython re-specialize the call sites whose
        methods switching just replaced: each variant is timed in its steady state.
        """
        elapsed: list[float] = []
        with switched(on):
            for _ in range(WARMUP):
                work(next(serial))
            gc.collect()
            gc.disable()
            try:
                for _ in range(ITERATIONS):
                    started = time.perf_counter()
                    work(next(serial))
                    elapsed.append((time.perf_counter() - started) * 1e6)
            finally:
                gc.enable()
        return elapsed

    variants: dict[str, tuple[bool, Callable[..., list[Any]]]] = {
        "local_on": (True, local),
        "local_off": (False, local),
        "cross_features": (True, cross_features),
        "cross_by_hand": (False, cross_by_hand),
    }
    profiles = {name: calls(on, work) for name, (on, work) in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(ROUNDS):
        for pair in (("local_on", "local_off"), ("cross_features", "cross_by_hand")):
            for name in pair if round_ % 2 == 0 else reversed(pair):
                times[name] += batch(*variants[name])
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        version = cursor.fetchone()[0]
    print(json.dumps({"times": times, "profiles": profiles, "checked": checked,
                      "installed": sorted(keys), "version": version}))


# -- the parent: databases, the child, the report --------------------------------------------


def _environment(urls: dict[str, str]) -> dict[str, str]:
    return {
        "SECRET_KEY": "bench-not-a-secret",
        "DJANGO_SETTINGS_MODULE": "switchsite.settings",
        "DATABASE_URL": urls["main"],
        "DATABASE_URL_BLOG_DB": urls["blog"],
        "DATABASE_URL_REPLICA": urls["main"] + "?read_only=true",
        "DB_ROUTE_BLOG": "blog_db",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(PROJECT)]),
        "PATH": os.environ.get("PATH", ""),
    }


def _best_half(samples: list[float]) -> float:
    """The mean of the faster half: the iterations the machine's other work disturbed least."""
    ordered = sorted(samples)
    return statistics.fmean(ordered[: max(1, len(ordered) // 2)])


def _ratio(label: str, times: dict[str, list[float]], top: str, bottom: str, goal: float) -> bool:
    """Prints one ratio and whether it meets ``goal`` (plus the plain means', to show the noise)."""
    fast_top, fast_bottom = _best_half(times[top]), _best_half(times[bottom])
    ratio = fast_top / fast_bottom
    plain = statistics.fmean(times[top]) / statistics.fmean(times[bottom])
    ok = ratio <= goal
    print(f"  {label:<42} {ratio:.3f}x (goal <= {goal}x) {'OK' if ok else 'MISSED'}   "
          f"[{fast_top:,.0f} us / {fast_bottom:,.0f} us per iteration; mean of all iterations: {plain:.3f}x]")
    return ok


def _calls(label: str, profiles: dict[str, dict[str, float]], top: str, bottom: str) -> None:
    """Python calls per iteration of two variants, and the djcfg-env functions only ``top`` calls."""
    over, under = profiles[top], profiles[bottom]
    total_top, total_bottom = sum(over.values()), sum(under.values())
    print(f"  {label:<42} {total_top:,.0f} against {total_bottom:,.0f} "
          f"({(total_top / total_bottom - 1) * 100:+.1f}%)")
    added = sorted(
        ((count - under.get(name, 0.0), name) for name, count in over.items()
         if name.startswith("djcfg_env.") and count > under.get(name, 0.0)),
        reverse=True,
    )
    if added:
        listing = ", ".join(f"{name.removeprefix('djcfg_env.')} {count:g}" for count, name in added)
        print(textwrap.fill(f"of which djcfg-env's: {listing}", width=110, initial_indent=" " * 4,
                            subsequent_indent=" " * 6))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests import pg

    reason = pg.unavailable_reason()
    if reason is not None:
        print(f"switches benchmark skipped: needs PostgreSQL ({reason}); run `make postgres`")
        return 0
    databases = pg.PostgresDatabases()
    try:
        urls = {}
        for label in ("main", "blog"):
            name = databases.create(f"bench_switches_{label}")
            pg.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            urls[label] = databases.url(name)
        done = subprocess.run(
            [sys.executable, __file__, "--worker"], env=_environment(urls), cwd=PROJECT,
            capture_output=True, text=True, timeout=1800, check=False,
        )
    finally:
        databases.drop_all()
    if done.returncode != 0:
        print(f"switches benchmark failed:\n{done.stderr[-4000:]}")
        return 1
    r = json.loads(done.stdout.strip().splitlines()[-1])
    times, checked, profiles = r["times"], r["checked"], r["profiles"]
    local_q, cross_q = checked["local"]["queries"], checked["cross"]["queries"]
    print(f"DJCFG_ENV switches, a mixed ORM workload on PostgreSQL {r['version'].split()[0]}; "
          f"{ROUNDS} interleaved rounds of {ITERATIONS} iterations per variant:")
    print(f"  switched on: {', '.join(r['installed'])} installed (a read-only alias is configured); "
          f"off: none")
    print("  checked: on and off send as many queries, return the same results and leave the same rows")
    print(f"  queries per iteration: {local_q['default']} within one database; across two databases, "
          f"{cross_q['default']} on default + {cross_q['blog_db']} on blog_db, where the delete "
          f"removed {dict(checked['cross']['deleted'])}")
    print("  Python calls per iteration:")
    _calls("within one database, on / off:", profiles, "local_on", "local_off")
    _calls("across two databases, features / by hand:", profiles, "cross_features", "cross_by_hand")
    print("  time per iteration, mean of each variant's faster half:")
    ok_local = _ratio("within one database, on / off:", times, "local_on", "local_off", GOAL_LOCAL)
    ok_cross = _ratio("across two databases, features / by hand:", times, "cross_features",
                      "cross_by_hand", GOAL_CROSS)
    return 0 if ok_local and ok_cross else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        raise SystemExit(main())
