"""``manage.py dbshell --database <read-only alias>`` opens a read-only session.

End to end: the seed project's ``dbshell`` on its read-only ``analytics`` alias
(SQLite files, real PostgreSQL, and MariaDB), with SQL piped into the real
client (``sqlite3``, ``psql``, ``mysql``): the write fails in the database and
the table, read back directly, is unchanged; ``dbshell`` on a writable alias
still writes. In process: the command line and environment each backend's
client gets (``settings_to_cmd_args_env``), and that ``READ_ONLY_GUARD: False``
gives Django's own back.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connections

from djcfg_env.env.schema import POSTGRES_READ_ONLY_OPTION
from tests import mysql, pg
from tests.conftest import read_only_guard_off, run
from tests.seed_project.harness import SEED_DIR, Seed, sqlite_seed

INSERT = "INSERT INTO analytics_pageview (path) VALUES ('from-dbshell');\n"


def dbshell(env: dict[str, str], alias: str, sql: str) -> subprocess.CompletedProcess[str]:
    """``manage.py dbshell --database <alias>`` of the seed project, with ``sql`` on its stdin."""
    return run(["python", "manage.py", "dbshell", "--database", alias], env=env, cwd=SEED_DIR, timeout=60, input=sql)


def needs(client: str) -> None:
    if shutil.which(client) is None:
        message = f"the {client} command-line client is not installed (.ci/postgres-up installs sqlite3)"
        if pg.REQUIRED:  # CI: a skipped end-to-end test is a failure
            pytest.fail(f"{message} [DJCFG_REQUIRE_POSTGRES=1 turns this skip into a failure]")
        pytest.skip(message)


# -- in process: what each backend's client is given --------------------------------------


def test_sqlite_read_only_alias_gets_readonly_and_a_writable_one_does_not() -> None:
    analytics, default = connections["analytics"], connections["default"]
    args, env = analytics.client.settings_to_cmd_args_env(analytics.settings_dict, ["-bail"])
    assert (args, env) == (["sqlite3", "-readonly", analytics.settings_dict["NAME"], "-bail"], None)
    args, env = default.client.settings_to_cmd_args_env(default.settings_dict, [])
    assert (args, env) == (["sqlite3", default.settings_dict["NAME"]], None)
    with read_only_guard_off():
        args, _ = analytics.client.settings_to_cmd_args_env(analytics.settings_dict, [])
        assert args == ["sqlite3", analytics.settings_dict["NAME"]]


def test_postgresql_client_gets_pgoptions_after_the_ones_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db.backends.postgresql.client import DatabaseClient

    settings_dict = connections["analytics"].settings_dict  # recognised by identity, whatever the engine
    monkeypatch.delenv("PGOPTIONS", raising=False)
    _, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    assert env["PGOPTIONS"] == POSTGRES_READ_ONLY_OPTION
    monkeypatch.setenv("PGOPTIONS", "-c search_path=reports")
    _, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    assert env["PGOPTIONS"] == f"-c search_path=reports {POSTGRES_READ_ONLY_OPTION}"
    _, env = DatabaseClient.settings_to_cmd_args_env(connections["default"].settings_dict, [])
    assert env is None or "PGOPTIONS" not in env


def test_mysql_client_gets_a_read_only_init_command_before_the_database_name() -> None:
    from django.db.backends.mysql.client import DatabaseClient

    settings_dict = connections["analytics"].settings_dict
    args, _ = DatabaseClient.settings_to_cmd_args_env(settings_dict, ["-e", "SELECT 1"])
    name = settings_dict["NAME"]
    assert args == ["mysql", "--init-command=SET SESSION TRANSACTION READ ONLY", name, "-e", "SELECT 1"]
    args, _ = DatabaseClient.settings_to_cmd_args_env(connections["default"].settings_dict, [])
    assert "--init-command=SET SESSION TRANSACTION READ ONLY" not in args


# -- end to end ------------------------------------------------------------------------------


def test_sqlite_dbshell_on_the_read_only_alias_cannot_write(seed_project: Callable[[str], Seed]) -> None:
    needs("sqlite3")
    seed = seed_project("sqlite")
    before = seed.rows("analytics", "SELECT * FROM analytics_pageview")
    refused = dbshell(seed.env, "analytics", INSERT + "CREATE TABLE dbshell_probe (a int);\n")
    assert refused.returncode != 0
    assert "attempt to write a readonly database" in refused.stderr
    assert seed.rows("analytics", "SELECT * FROM analytics_pageview") == before
    assert "dbshell_probe" not in seed.tables("analytics")
    # A writable alias's dbshell still writes.
    try:
        done = dbshell(
            seed.env, "default", "CREATE TABLE dbshell_probe (a int); INSERT INTO dbshell_probe VALUES (1);\n"
        )
        assert done.returncode == 0, done.stderr
        assert seed.rows("default", "SELECT a FROM dbshell_probe") == [(1,)]
    finally:
        seed.execute("default", "DROP TABLE IF EXISTS dbshell_probe")


@pytest.mark.postgres
def test_postgresql_dbshell_on_the_read_only_alias_cannot_write(seed_project: Callable[[str], Seed]) -> None:
    needs("psql")
    seed = seed_project("postgresql")
    before = seed.rows("analytics", "SELECT * FROM analytics_pageview")
    env = {**seed.env, "PGOPTIONS": "-c search_path=djcfg_dbshell,public"}
    refused = dbshell(
        env,
        "analytics",
        "SHOW search_path;\nSHOW default_transaction_read_only;\n"
        + INSERT
        + "CREATE TABLE dbshell_probe (a int);\n",
    )
    assert "cannot execute INSERT in a read-only transaction" in refused.stderr
    assert "cannot execute CREATE TABLE in a read-only transaction" in refused.stderr
    lines = [line.strip() for line in refused.stdout.splitlines()]
    assert "djcfg_dbshell,public" in lines and "on" in lines  # the environment's PGOPTIONS is kept
    assert seed.rows("analytics", "SELECT * FROM analytics_pageview") == before
    assert "dbshell_probe" not in seed.tables("analytics")
    try:
        done = dbshell(
            seed.env, "default", "CREATE TABLE dbshell_probe (a int); INSERT INTO dbshell_probe VALUES (1);\n"
        )
        assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr
        assert seed.rows("default", "SELECT a FROM dbshell_probe") == [(1,)]
    finally:
        seed.execute("default", "DROP TABLE IF EXISTS dbshell_probe")


@pytest.mark.mysql
def test_mariadb_dbshell_on_the_read_only_alias_cannot_write(
    mariadb: mysql.MySQLDatabases, tmp_path: Path
) -> None:
    needs("mysql")
    name = mariadb.create("dbshell")
    mysql.execute(
        "CREATE TABLE analytics_pageview (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "path varchar(200) NOT NULL, user_id bigint NULL)",
        name,
    )
    mysql.execute("INSERT INTO analytics_pageview (id, path) VALUES (1, 'seed')", name)
    env = sqlite_seed(tmp_path).env  # the other aliases: SQLite files nobody touches here
    env["DATABASE_URL_ANALYTICS"] = mariadb.url(name, "read_only=true")
    env["DATABASE_URL_SHOP_DB"] = mariadb.url(name)  # the same database, writable
    refused = dbshell(env, "analytics", INSERT)
    assert refused.returncode != 0
    assert "ERROR 1792" in refused.stderr  # Cannot execute statement in a READ ONLY transaction
    assert mysql.execute("SELECT id, path FROM analytics_pageview", name) == [(1, "seed")]
    assert mysql.password_free(refused)
    done = dbshell(env, "shop_db", INSERT)
    assert done.returncode == 0, done.stderr
    assert mysql.execute("SELECT path FROM analytics_pageview ORDER BY id", name) == [
        ("seed",),
        ("from-dbshell",),
    ]
