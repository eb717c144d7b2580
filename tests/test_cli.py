"""``python -m djcfg_env check|show``: run as a user would, in a subprocess, no Django settings."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run

PASSWORD = "Pw-cli-9f2c@:/#?%"
SECRET_KEY = "sk-cli-5b1d7e0c-never-print-me"

VALID = {
    "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db-main:5432/main?sslmode=require&conn_max_age=600",
    "DATABASE_URL_BLOG_DB": "postgres://app:${DB_PASSWORD}@db-blog:5432/blog?conn_health_checks=true",
    "DATABASE_URL_ANALYTICS": (
        "postgres://reader:${DB_PASSWORD}@warehouse/analytics?read_only=true&connect_timeout=10"
    ),
    "DATABASE_URL_LOCAL": "sqlite:///var/local.sqlite3",
    "DB_ROUTE_BLOG": "blog_db",
    "DB_ROUTE_ANALYTICS": "analytics",
    "DB_PASSWORD": PASSWORD,
    "SECRET_KEY": SECRET_KEY,
}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert SECRET_KEY not in text
        assert "Pw-cli-9f2c" not in text  # not even the start of it, nor its encoded form
        assert "Pw-cli-9f2c%40" not in text


def djcfg(*args: str, env: dict[str, str]):
    return run(["python", "-m", "djcfg_env", *args], env=env)


def test_check_valid_environment_prints_one_line_summary_and_exits_0():
    result = djcfg("check", env=VALID)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines == [
        "djcfg-env: OK: 4 databases (default, analytics, blog_db, local), 2 routes, "
        "1 read-only (analytics)."
    ]
    assert_no_secret(result.stdout, result.stderr)


def test_check_lists_every_problem_and_exits_1():
    env = {
        **VALID,
        "DATABASE_URL_BLOG_DB": "postgres://app:${MISSING_PASSWORD}@db-blog/blog",
        "DATABASE_URL_SHOP": "sqlite://shop.db",
        "DB_ROUTE_SHOP": "nowhere",
        "DEBUG": "maybe",
    }
    result = djcfg("check", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    problem_lines = result.stderr.strip().splitlines()[1:]
    assert [line.split(":")[0].strip() for line in problem_lines] == [
        "DATABASE_URL_BLOG_DB",
        "DATABASE_URL_SHOP",
        "DB_ROUTE_SHOP",
        "DEBUG",
    ]
    assert result.stderr.startswith("djcfg-env: 4 problems in the environment:")
    assert "MISSING_PASSWORD" in result.stderr
    assert "sqlite:///" in result.stderr  # says how to write it instead
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_check_without_database_url():
    result = djcfg("check", env={"SECRET_KEY": SECRET_KEY})
    assert result.returncode == 1
    assert "DATABASE_URL: is not set" in result.stderr


def test_show_human_masks_passwords_and_lists_routes():
    result = djcfg("show", env=VALID)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert_no_secret(out, result.stderr)
    assert "password: ***" in out
    assert "analytics  (DATABASE_URL_ANALYTICS)  [read-only]" in out
    assert "host:     db-main:5432" in out
    assert "options:  sslmode=require" in out
    assert "blog -> blog_db  (DB_ROUTE_BLOG)" in out
    assert "Apps on default: every app not routed above" in out
    # default first, then the other aliases by name
    order = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and "(DATABASE_URL" in line]
    assert order == ["default", "analytics", "blog_db", "local"]


def test_show_json_is_machine_readable_and_masked():
    result = djcfg("show", "--json", env=VALID)
    assert result.returncode == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert list(data["databases"]) == ["default", "analytics", "blog_db", "local"]
    default = data["databases"]["default"]
    assert default == {
        "variable": "DATABASE_URL",
        "engine": "django.db.backends.postgresql",
        "host": "db-main",
        "port": 5432,
        "name": "main",
        "user": "app",
        "password": "***",
        "options": {"sslmode": "require"},
        "read_only": False,
        "conn_max_age": 600,
        "conn_health_checks": False,
        "atomic_requests": False,
        "disable_server_side_cursors": False,
        "test": {},
        "replica_of": None,
        "replica_max_lag": None,
        "replicas": [],
    }
    analytics = data["databases"]["analytics"]
    assert analytics["read_only"] is True
    assert analytics["options"] == {
        "connect_timeout": 10,
        "options": "-c default_transaction_read_only=on",
    }
    assert data["databases"]["local"]["password"] == ""
    assert data["routes"] == {"analytics": "analytics", "blog": "blog_db"}
    assert data["route_variables"] == {"analytics": "DB_ROUTE_ANALYTICS", "blog": "DB_ROUTE_BLOG"}
    assert data["read_only"] == ["analytics"]
    assert data["default_apps"] is None


def test_show_masks_secret_driver_options():
    env = {**VALID, "DATABASE_URL": "postgres://app@db/main?sslpassword=" + "opt-secret-77"}
    result = djcfg("show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "opt-secret-77" not in result.stdout
    assert json.loads(result.stdout)["databases"]["default"]["options"]["sslpassword"] == "***"


def test_show_with_a_bad_environment_exits_1_without_secrets():
    env = {**VALID, "DATABASE_URL": f"postgres://app:{PASSWORD}@db:99999/main"}
    result = djcfg("show", env=env)
    assert result.returncode == 1
    assert "DATABASE_URL:" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_show_lists_apps_left_on_default_when_a_settings_module_is_set(tmp_path):
    (tmp_path / "cli_settings.py").write_text(
        "from djcfg_env.settings import *\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.auth', 'djcfg_env']\n"
    )
    env = {**VALID, "DJANGO_SETTINGS_MODULE": "cli_settings", "DB_ROUTE_AUTH": "blog_db"}
    result = run(
        ["python", "-m", "djcfg_env", "show", "--json"],
        env={**env, "PYTHONPATH": f"{tmp_path}:{ROOT / 'src'}"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["default_apps"] == ["contenttypes", "djcfg_env"]
    assert_no_secret(result.stdout, result.stderr)


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["check", "--json"]])
def test_usage_errors_exit_2(args):
    result = djcfg(*args, env=VALID)
    assert result.returncode == 2
    assert "usage: python -m djcfg_env" in result.stderr


def test_show_masks_key_options_like_migrate_all_does():
    env = {**VALID, "DATABASE_URL": "mysql://app@db/main?api_key=" + "opt-key-55"}
    result = djcfg("show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "opt-key-55" not in result.stdout
    assert json.loads(result.stdout)["databases"]["default"]["options"]["api_key"] == "***"


def test_nul_in_an_interpolated_password_fails_check_without_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from djcfg_env.__main__ import main

    password = "Rv7-NUL-distinctive-pw"
    env = {"DATABASE_URL": "postgres://app:${DB_PASSWORD}@127.0.0.1:5432/main", "SECRET_KEY": SECRET_KEY}
    # '%00' in the variable is encoded as '%2500' (a literal '%00'): a valid password.
    assert main(["check"], {**env, "DB_PASSWORD": f"{password}%00"}) == 0
    capsys.readouterr()
    # A real NUL character cannot reach libpq (which would end the conninfo string there).
    assert main(["check"], {**env, "DB_PASSWORD": f"{password}\x00tail"}) == 1
    out, err = capsys.readouterr()
    assert "DATABASE_URL: has a NUL character (%00) in the password" in err
    for secret in (password, SECRET_KEY):
        assert secret not in out + err
