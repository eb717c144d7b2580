"""Scenarios for tests/test_replica_streaming.py, run as ``python tests/replica_probe.py <scenario> [name]``.

Django is configured from the environment by :func:`djcfg_env.load` (``DATABASE_URL``
for the primary, ``DATABASE_URL_DEFAULT_REPLICA=...?replica_of=default&replica_max_lag=3``
for the standby), as a project's settings.py would. Every statement each alias is sent
is recorded, so a scenario reports which alias served each read. Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from djcfg_env import load  # noqa: E402

settings.configure(
    **{
        **load(os.environ).as_django_settings(),
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "djcfg_env"],
        "MIDDLEWARE": ["djcfg_env.middleware.ReplicaPinningMiddleware"],
        "ROOT_URLCONF": __name__,
        "ALLOWED_HOSTS": ["testserver"],
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    }
)
django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from djcfg_env.orm import replicas  # noqa: E402

PRIMARY, REPLICA = "default", "default_replica"

#: alias -> the statements it was sent.
SENT: dict[str, list[str]] = {PRIMARY: [], REPLICA: []}


def _recorder(alias: str) -> Any:
    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        SENT[alias].append(sql)
        return execute(sql, params, many, context)

    return record


for _alias in SENT:
    connections[_alias].execute_wrappers.append(_recorder(_alias))

#: The warnings djcfg_env.replicas logs.
WARNINGS: list[str] = []


class _Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        WARNINGS.append(record.getMessage())


logging.getLogger("djcfg_env.replicas").addHandler(_Keep(logging.WARNING))


def _reads(alias: str) -> list[str]:
    """The reads of auth_group ``alias`` was sent (the lag check is not one)."""
    return [sql for sql in SENT[alias] if "auth_group" in sql and sql.lstrip().upper().startswith("SELECT")]


def read(name: str) -> dict[str, Any]:
    """Read the group ``name`` in a fresh context (as a new request would); where it was served."""
    replicas.reset_context()
    before = {alias: len(_reads(alias)) for alias in SENT}
    found = Group.objects.filter(name=name).first()
    served = [alias for alias in SENT if len(_reads(alias)) > before[alias]]
    return {"found": found is not None, "served_by": served}


# -- a tiny site for the pinning cookie ------------------------------------------------------------


def _write_view(request: HttpRequest) -> HttpResponse:
    Group.objects.create(name=request.POST["name"])
    return HttpResponseRedirect(f"/read/?name={request.POST['name']}")


def _read_view(request: HttpRequest) -> HttpResponse:
    group = Group.objects.filter(name=request.GET["name"]).first()
    return JsonResponse({"found": group is not None, "served_by": Group.objects.all().db})


urlpatterns = [path("write/", _write_view), path("read/", _read_view)]


# -- the scenarios --------------------------------------------------------------------------------


def scenario_migrate(name: str) -> dict[str, Any]:
    call_command("migrate", database=PRIMARY, verbosity=0)
    return {"ok": True}


def scenario_write(name: str) -> dict[str, Any]:
    replicas.reset_context()
    Group.objects.create(name=name)
    return {"written": True}


def scenario_read(name: str) -> dict[str, Any]:
    return read(name)


def scenario_paused(name: str) -> dict[str, Any]:
    """Replay is paused: a read after a write in one request, then reads while the replica lags."""
    replicas.reset_context()
    Group.objects.create(name=name)
    same = Group.objects.filter(name=name).first()
    same_request = {"found": same is not None, "served_by": Group.objects.all().db}
    # Wait until the standby is more than replica_max_lag (3 s) behind.
    deadline = time.monotonic() + 20
    lag = 0.0
    while time.monotonic() < deadline:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(replicas._LAG_SQL)
            lag = float(cursor.fetchone()[0] or 0)
        if lag > 3.5:
            break
        time.sleep(0.2)
    time.sleep(replicas.LAG_CHECK_SECONDS)  # the last measurement is stale by now
    replica_reads_before = len(_reads(REPLICA))
    sent_before = len(SENT[REPLICA])  # the waiting above measured the lag too: not counted
    lagging = [read(name) for _ in range(3)]
    lag_checks = [sql for sql in SENT[REPLICA][sent_before:] if "pg_last_xact_replay_timestamp" in sql]
    return {
        "same_request": same_request,
        "lag": lag,
        "lagging": lagging,
        "replica_reads_while_lagging": len(_reads(REPLICA)) - replica_reads_before,
        "lag_checks": len(lag_checks),
    }


def scenario_stopped(name: str) -> dict[str, Any]:
    """The standby is stopped: reads keep working from the primary, one warning."""
    return {"reads": [read(name) for _ in range(3)], "warnings": WARNINGS}


def _wait_replayed(timeout: float = 10) -> None:
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"the standby did not replay up to {target} within {timeout}s")


def scenario_prg(name: str) -> dict[str, Any]:
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    client = Client()
    posted = client.post("/write/", {"name": name}, secure=True)
    cookie = posted.cookies.get("djcfg_env_pin")
    # The browser follows the redirect, over HTTPS too, with the cookie.
    redirected = client.get(posted["Location"], secure=True)
    _wait_replayed()  # else the replica may count as lagging (replica_max_lag=3) and serve nothing
    fresh = Client().get("/read/", {"name": name}, secure=True).json()
    return {
        "redirect": [posted.status_code, posted["Location"]],
        "after_redirect": redirected.json(),
        "cookie": None
        if cookie is None
        else {
            "httponly": bool(cookie["httponly"]),
            "secure": bool(cookie["secure"]),
            "samesite": cookie["samesite"],
            "max_age": cookie["max-age"],
        },
        "fresh_client": fresh,
    }


if __name__ == "__main__":
    scenario, name = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    result = globals()[f"scenario_{scenario}"](name)
    connections.close_all()
    print(json.dumps(result))
