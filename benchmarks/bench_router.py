"""Router speed: ``django.db.router.db_for_read`` with AppDatabaseRouter, against two baselines.

Run: ``.venv/bin/python benchmarks/run.py router`` (or ``make bench``).

Measured in one process, one run, on the same models and calls:

* **no router**: Django with ``DATABASE_ROUTERS = []`` (the floor: every
  call returns ``default``). Goal: AppDatabaseRouter within 2.6x of it.
* **settings router**: a router that looks the rule up in ``settings`` on every
  call, as django-cfg's ``DatabaseRouter`` does
  (``getattr(settings, "DATABASE_ROUTING_RULES", {}).get(app_label)``).
  Goal: AppDatabaseRouter at least 2.5x faster.

The calls alternate a routed model (``auth.User`` -> ``users_db``) and an
unrouted one (``contenttypes.ContentType`` -> ``default``), without hints (as
``QuerySet.db`` calls it) and with an ``instance=`` hint (as related managers
call it). Each figure is the best of several repeats, to keep noise out of the
ratios.

Then, with ``users_db`` given a read replica (``DATABASE_REPLICAS``, as
``replica_of=users_db`` does) and the ``REPLICAS`` switch on:

* **replica ratio**: ``db_for_read(User)`` (its alias has a replica: the
  context's sticky replica is looked up) against ``db_for_read(ContentType)``
  (its alias has none), in the same run. Goal: at most 1.5x.

Returns 1 if a goal is missed.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

NUMBER = 50_000
REPEAT = 15
GOAL_VS_NO_ROUTER = 2.6
GOAL_VS_SETTINGS_ROUTER = 2.5
GOAL_REPLICA_RATIO = 1.5


def _setup() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        settings.configure(
            DATABASES={"default": sqlite, "users_db": dict(sqlite), "users_db_replica": dict(sqlite)},
            DATABASE_ROUTING_RULES={"auth": "users_db"},
            READ_ONLY_DATABASES=frozenset(),
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "djcfg_env"],
            DATABASE_ROUTERS=["djcfg_env.router.AppDatabaseRouter"],
        )
        django.setup()


class SettingsLookupRouter:
    """The baseline: the rule is looked up in ``settings`` on every call (django-cfg style)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        from django.conf import settings

        rules = getattr(settings, "DATABASE_ROUTING_RULES", {})
        return rules.get(model._meta.app_label)

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        from django.conf import settings

        rules = getattr(settings, "DATABASE_ROUTING_RULES", {})
        return rules.get(model._meta.app_label)


def _calls(router: Any, hinted: bool) -> Any:
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType

    user = User(username="u")
    user._state.db = "users_db"
    route = router.db_for_read
    if hinted:

        def calls() -> None:
            route(User, instance=user)
            route(ContentType, instance=user)
    else:

        def calls() -> None:
            route(User)
            route(ContentType)

    calls()  # warm up: cached properties, per-model tables
    return calls


def _measure(variants: dict[str, Any]) -> dict[str, float]:
    """ns per db_for_read call for each variant, best of REPEAT rounds.

    The variants are timed in turn within each round, so machine noise hits
    them alike and the ratios stay steady.
    """
    best = {name: float("inf") for name in variants}
    for _ in range(REPEAT):
        for name, calls in variants.items():
            elapsed = timeit.timeit(calls, number=NUMBER)
            best[name] = min(best[name], elapsed / (2 * NUMBER) * 1e9)
    return best


def main() -> int:
    _setup()
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.db.utils import ConnectionRouter

    from djcfg_env.router import AppDatabaseRouter

    routers = {
        "none": ConnectionRouter([]),
        "ours": ConnectionRouter([AppDatabaseRouter()]),
        "lookup": ConnectionRouter([SettingsLookupRouter()]),
    }
    for name in ("ours", "lookup"):
        router = routers[name]
        assert router.db_for_read(User) == "users_db", name
        assert router.db_for_read(ContentType) == "default", name
    status = 0
    for hinted in (False, True):
        label = "with instance= hint" if hinted else "no hints"
        ns = _measure({name: _calls(router, hinted) for name, router in routers.items()})
        vs_none = ns["ours"] / ns["none"]
        vs_lookup = ns["lookup"] / ns["ours"]
        ok_none = vs_none <= GOAL_VS_NO_ROUTER
        ok_lookup = vs_lookup >= GOAL_VS_SETTINGS_ROUTER
        print(
            f"router.db_for_read ({label}), ns per call: no router {ns['none']:.0f}, "
            f"AppDatabaseRouter {ns['ours']:.0f}, settings-lookup router {ns['lookup']:.0f}"
        )
        print(
            f"  AppDatabaseRouter / no router              = {vs_none:.2f}x "
            f"(goal <= {GOAL_VS_NO_ROUTER}x) {'OK' if ok_none else 'MISSED'}"
        )
        print(
            f"  settings-lookup router / AppDatabaseRouter = {vs_lookup:.2f}x "
            f"(goal >= {GOAL_VS_SETTINGS_ROUTER}x) {'OK' if ok_lookup else 'MISSED'}"
        )
        if not (ok_none and ok_lookup):
            status = 1
    status |= _replica_ratio(routers["ours"])
    return status


def _replica_ratio(router: Any) -> int:
    """db_for_read for a model whose alias has a replica, against one whose alias has none."""
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.test import override_settings

    from djcfg_env.orm import replicas

    with override_settings(
        DATABASE_REPLICAS={"users_db": ["users_db_replica"]},
        READ_ONLY_DATABASES=frozenset({"users_db_replica"}),
    ):
        assert "REPLICAS" in __import__("djcfg_env.orm.switches", fromlist=["x"]).installed()
        route = router.db_for_read
        assert route(User) == "users_db_replica" and route(ContentType) == "default"
        replicas.reset_context()

        def replicated() -> None:
            route(User)
            route(User)

        def plain() -> None:
            route(ContentType)
            route(ContentType)

        replicated()
        ns = _measure({"replicated": replicated, "plain": plain})
    ratio = ns["replicated"] / ns["plain"]
    ok = ratio <= GOAL_REPLICA_RATIO
    print(
        f"router.db_for_read, ns per call: alias with a replica {ns['replicated']:.0f}, "
        f"alias without {ns['plain']:.0f}"
    )
    print(
        f"  replica ratio (with / without)             = {ratio:.2f}x "
        f"(goal <= {GOAL_REPLICA_RATIO}x) {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
