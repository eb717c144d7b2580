"""Read replicas on real streaming replication: a PostgreSQL hot standby of the tests' server.

``.ci/postgres-replica-up`` runs the standby (tests/pg_replica.py); without it these
tests skip (fail with ``DJCFG_REQUIRE_POSTGRES=1``). One database is made on the
primary for the module (it appears on the standby) and migrated once; each test runs
tests/replica_probe.py, configured from environment variables by ``djcfg_env.load()``
(``DATABASE_URL_DEFAULT_REPLICA=...?replica_of=default&replica_max_lag=3``), and
reads back which alias served each read (every statement each alias is sent is recorded).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests import pg, pg_replica
from tests.conftest import ROOT, run

pytestmark = pytest.mark.postgres

PROBE = ROOT / "tests" / "replica_probe.py"


@pytest.fixture(scope="module")
def environment() -> Iterator[dict[str, str]]:
    pg_replica.require_replica()
    databases = pg.PostgresDatabases()
    try:
        name = databases.create("replicas")
        pg_replica.wait_for_database(name)
        env = {
            "DATABASE_URL": databases.url(name),
            "DATABASE_URL_DEFAULT_REPLICA": pg_replica.replica_url(
                name, "replica_of=default&replica_max_lag=3"
            ),
            "SECRET_KEY": "replica-tests-not-a-secret",
        }
        probe(env, "migrate")
        pg_replica.wait_replayed()
        yield env
    finally:
        databases.drop_all()


def probe(env: dict[str, str], scenario: str, name: str = "") -> Any:
    result = run(["python", str(PROBE), scenario, name], env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def unique(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}"


def test_a_write_is_read_back_from_the_replica_once_replayed(environment) -> None:
    name = unique("replayed")
    probe(environment, "write", name)
    pg_replica.wait_replayed()
    assert probe(environment, "read", name) == {"found": True, "served_by": ["default_replica"]}


def test_with_replay_paused_reads_follow_the_writes_and_skip_the_lagging_replica(environment) -> None:
    name = unique("paused")
    with pg_replica.paused_replay():
        result = probe(environment, "paused", name)
    # The read after the write, in the same request: the primary, which has the row.
    assert result["same_request"] == {"found": True, "served_by": "default"}
    assert result["lag"] > 3
    # Reads of new requests while the standby is more than replica_max_lag behind: the primary.
    assert result["lagging"] == [{"found": True, "served_by": ["default"]}] * 3
    assert result["replica_reads_while_lagging"] == 0
    # The lag was measured, and not once per read.
    assert 1 <= result["lag_checks"] <= 2
    pg_replica.wait_replayed()
    assert probe(environment, "read", name) == {"found": True, "served_by": ["default_replica"]}


def test_with_the_standby_stopped_reads_come_from_the_primary_with_one_warning(environment) -> None:
    name = unique("stopped")
    probe(environment, "write", name)
    with pg_replica.stopped_standby():
        result = probe(environment, "stopped", name)
    assert result["reads"] == [{"found": True, "served_by": ["default"]}] * 3
    (warning,) = result["warnings"]
    assert "'default_replica'" in warning and "'default'" in warning
    assert pg.PostgresDatabases().password not in warning


def test_the_pinning_cookie_across_post_redirect_get(environment) -> None:
    name = unique("prg")
    result = probe(environment, "prg", name)
    assert result["redirect"] == [302, f"/read/?name={name}"]
    assert result["after_redirect"] == {"found": True, "served_by": "default"}
    assert result["cookie"] == {"httponly": True, "secure": True, "samesite": "Lax", "max_age": 15}
    # A client that did not write reads the replica.
    assert result["fresh_client"]["served_by"] == "default_replica"
