"""``djcfg_env.settings`` and a real Django project that uses it, in subprocesses.

``import djcfg_env`` reads nothing; ``djcfg_env.settings`` loads ``os.environ``
once and publishes the upper-case names; a project whose settings.py is
``from djcfg_env.settings import *`` passes ``manage.py check`` and runs real
queries on SQLite and PostgreSQL; a bad environment stops it at settings
import with every problem listed and no secret shown.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run

PROJECT = Path(__file__).parent / "core_project"
MANAGE = str(PROJECT / "manage.py")
SECRET_KEY = "settings-module-secret-key-4e4e"


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> Any:
    return run(["python", MANAGE, *args], env=env, cwd=PROJECT, timeout=timeout)


# -- import djcfg_env reads nothing ---------------------------------------------------------

NO_READ_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import django, django.core.exceptions, environs, marshmallow, dj_database_url  # noqa

    touched = []
    class Tripwire(dict):
        def __getitem__(self, key): touched.append(key); return dict.__getitem__(self, key)
        def get(self, key, default=None): touched.append(key); return dict.get(self, key, default)
        def __contains__(self, key): touched.append(key); return dict.__contains__(self, key)
        def __iter__(self): touched.append("<iter>"); return dict.__iter__(self)
        def keys(self): touched.append("<keys>"); return dict.keys(self)
        def items(self): touched.append("<items>"); return dict.items(self)
        def copy(self): touched.append("<copy>"); return dict.copy(self)
    os.environ = Tripwire(os.environ)

    import djcfg_env
    print(json.dumps({
        "touched": touched,
        "settings_imported": "djcfg_env.settings" in sys.modules,
        "public": sorted(name for name in djcfg_env.__all__),
        "django_configured": django.conf.settings.configured if "django.conf" in sys.modules else False,
    }))
    """
)


def test_import_djcfg_env_alone_reads_no_environment(tmp_path: Path) -> None:
    script = tmp_path / "no_read.py"
    script.write_text(NO_READ_SCRIPT)
    # A broken environment proves it too: importing must not fail on it.
    result = run(["python", str(script)], env={"DATABASE_URL": "sqlite://broken.db",
                                               "DEBUG": "maybe"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "touched": [],
        "settings_imported": False,
        "public": ["ConfigError", "CrossDatabaseJoinError", "ReadOnlyDatabaseError", "Settings",
                   "__version__", "allow_writes", "load", "use_primary"],
        "django_configured": False,
    }


# -- djcfg_env.settings ------------------------------------------------------------------

PUBLISH_SCRIPT = textwrap.dedent(
    """
    import importlib, json
    import djcfg_env

    calls = []
    real_load = djcfg_env.load
    def counting_load(*args, **kwargs):
        calls.append(args)
        return real_load(*args, **kwargs)
    djcfg_env.load = counting_load

    module = importlib.import_module("djcfg_env.settings")
    importlib.import_module("djcfg_env.settings")
    namespace = {}
    exec("from djcfg_env.settings import *", namespace)
    namespace.pop("__builtins__")
    print(json.dumps({
        "load_calls": len(calls),
        "star_names": sorted(namespace),
        "all": sorted(module.__all__),
        "DATABASES": module.DATABASES,
        "DATABASE_ROUTERS": module.DATABASE_ROUTERS,
        "DATABASE_ROUTING_RULES": module.DATABASE_ROUTING_RULES,
        "READ_ONLY_DATABASES": sorted(module.READ_ONLY_DATABASES),
        "SECRET_KEY": module.SECRET_KEY,
        "DEBUG": module.DEBUG,
        "ALLOWED_HOSTS": module.ALLOWED_HOSTS,
    }))
    """
)


def test_settings_module_loads_once_and_publishes_the_names(tmp_path: Path) -> None:
    script = tmp_path / "publish.py"
    script.write_text(PUBLISH_SCRIPT)
    result = run(["python", str(script)], env={
        "DATABASE_URL": "sqlite:///main.db",
        "DATABASE_URL_ANALYTICS": "sqlite:///analytics.db?read_only=true",
        "DB_ROUTE_REPORTS": "analytics",
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "yes",
        "ALLOWED_HOSTS": "example.com,.example.org",
    })
    assert result.returncode == 0, result.stderr
    published = json.loads(result.stdout)
    names = ["ALLOWED_HOSTS", "DATABASES", "DATABASE_REPLICAS", "DATABASE_REPLICA_MAX_LAG",
             "DATABASE_ROUTERS", "DATABASE_ROUTING_RULES", "DB_REPLICA_PIN_SECONDS",
             "DEBUG", "DEFAULT_EXCEPTION_REPORTER", "DEFAULT_EXCEPTION_REPORTER_FILTER",
             "READ_ONLY_DATABASES", "SECRET_KEY"]
    assert published.pop("load_calls") == 1
    assert published.pop("star_names") == names
    assert published.pop("all") == names
    assert list(published["DATABASES"]) == ["default", "analytics"]
    assert published["DATABASES"]["analytics"]["NAME"] == "analytics.db"
    assert published["DATABASE_ROUTERS"] == ["djcfg_env.router.AppDatabaseRouter"]
    assert published["DATABASE_ROUTING_RULES"] == {"reports": "analytics"}
    assert published["READ_ONLY_DATABASES"] == ["analytics"]
    assert published["SECRET_KEY"] == SECRET_KEY
    assert published["DEBUG"] is True
    assert published["ALLOWED_HOSTS"] == ["example.com", ".example.org"]


def test_load_works_with_django_installed_but_not_configured() -> None:
    code = (
        "import os, django.conf, djcfg_env\n"
        "assert 'DJANGO_SETTINGS_MODULE' not in os.environ\n"
        "s = djcfg_env.load({'DATABASE_URL': 'postgres://u:p@h/d?conn_max_age=60', 'SECRET_KEY': 'k'})\n"
        "print(s.DATABASES['default']['ENGINE'], django.conf.settings.configured)\n"
    )
    result = run(["python", "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False"]


# -- a real project ------------------------------------------------------------------------

QUERY = (
    "from django.conf import settings\n"
    "from django.contrib.contenttypes.models import ContentType\n"
    "from django.db import connections\n"
    "ContentType.objects.get_or_create(app_label='core', model='probe')\n"
    "with connections['reports'].cursor() as cursor:\n"
    "    cursor.execute('SELECT 6 * 7')\n"
    "    answer = cursor.fetchone()[0]\n"
    "print(connections['default'].vendor, ContentType.objects.filter(app_label='core').count(),"
    " answer, settings.DATABASES['default']['CONN_MAX_AGE'], sorted(settings.DATABASES),"
    " settings.DEBUG)\n"
)


def _project_env(default_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": default_url,
        "DATABASE_URL_REPORTS": f"sqlite:///{tmp_path / 'reports.sqlite3'}",
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "localhost",
    }


def _check_and_query(env: dict[str, str]) -> str:
    check = manage("check", env=env)
    assert check.returncode == 0, check.stderr
    assert "System check identified" in check.stdout
    migrate = manage("migrate", "contenttypes", "--database", "default", "--no-input", env=env)
    assert migrate.returncode == 0, migrate.stderr
    shell = manage("shell", "-c", QUERY, env=env)
    assert shell.returncode == 0, shell.stderr
    # Django 5.2+ shell may first say what it imported automatically.
    return shell.stdout.strip().splitlines()[-1]


def test_project_runs_on_sqlite(tmp_path: Path) -> None:
    env = _project_env(f"sqlite:///{tmp_path / 'main.sqlite3'}?conn_max_age=30", tmp_path)
    out = _check_and_query(env)
    assert out == "sqlite 1 42 30 ['default', 'reports'] False"
    assert (tmp_path / "main.sqlite3").stat().st_size > 0


def test_project_runs_on_postgresql(postgres, tmp_path: Path) -> None:
    name = postgres.create("project")
    env = _project_env(postgres.url(name, "conn_max_age=30&application_name=djcfg-core-test"),
                       tmp_path)
    out = _check_and_query(env)
    assert out == "postgresql 1 42 30 ['default', 'reports'] False"
    from tests import pg

    tables = pg.execute("SELECT tablename FROM pg_tables WHERE tablename = 'django_content_type'",
                        database=name)
    assert tables == [("django_content_type",)]


# -- a bad environment stops the project at settings import -------------------------------

BAD_PASSWORD = "Bad-Env-Pw-91@:/#?%x"
BAD_SECRET_KEY = "Bad-Env-Secret-Key-3f3f"


@pytest.mark.parametrize(
    "command",
    [["manage.py", "check"], ["manage.py", "migrate", "--no-input"], ["-c", "import coreproj.settings"]],
    ids=["check", "migrate", "import"],
)
def test_a_bad_environment_fails_at_settings_import_listing_every_problem(
    command: list[str],
) -> None:
    env = {
        "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db:99999/main",
        "DATABASE_URL_ANALYTICS": "postgres://reader:Literal-Pw-5e5e@warehouse/a?read_only=maybe",
        "DB_ROUTE_BLOG": "blog_db",
        "DB_PASSWORD": BAD_PASSWORD,
        "SECRET_KEY": "",
        "DEBUG": "perhaps",
        "ALLOWED_HOSTS": f"https://{BAD_SECRET_KEY}",
    }
    args = [MANAGE, *command[1:]] if command[0] == "manage.py" else command
    result = run(["python", *args], env=env, cwd=PROJECT)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "djcfg_env.exceptions.ConfigError" in output
    for line in (
        "DATABASE_URL: cannot be read as a URL; check the port",
        "DATABASE_URL_ANALYTICS: parameter read_only is not a boolean;",
        "DB_ROUTE_BLOG: routes app 'blog' to an alias that is not defined;",
        "SECRET_KEY: is empty;",
        "DEBUG: is not a boolean;",
        "ALLOWED_HOSTS: entry 1 looks like a URL;",
    ):
        assert line in output, output
    for secret in (BAD_PASSWORD, "Literal-Pw-5e5e", BAD_SECRET_KEY):
        assert secret not in output
        assert secret.lower() not in output.lower()
    if command[0] == "-c":  # the settings import itself ends the process: no frames
        assert "Traceback" not in output
        assert output.startswith("djcfg_env.exceptions.ConfigError: DATABASE_URL: ")


BAD_ENV = {
    "DATABASE_URL": "postgres://app:${DB_PASSWORD}@db:99999/main",
    "DB_PASSWORD": BAD_PASSWORD,
    "SECRET_KEY": SECRET_KEY,
}


def test_manage_py_that_stops_on_another_error_still_prints_the_environment_problems() -> None:
    # manage.py swallows the failed settings import and runs the command; this one
    # touches the app registry first (as a model system check may, in whatever order
    # Django 4.2 runs them), so the process ends on AppRegistryNotReady.
    code = "from django.apps import apps; apps.get_models()"
    result = manage("shell", "-c", code, env=BAD_ENV)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "AppRegistryNotReady" in output  # its traceback is kept...
    tail = output.split("AppRegistryNotReady: Models aren't loaded yet.", 1)[1]
    assert "the environment is not valid" in tail  # ...and the problems follow it
    assert "djcfg_env.exceptions.ConfigError: DATABASE_URL: cannot be read as a URL" in tail
    assert BAD_PASSWORD not in output


def test_settings_that_load_after_all_forget_the_earlier_problems() -> None:
    script = textwrap.dedent(
        """
        import os
        try:
            import coreproj.settings
        except Exception as error:
            print(type(error).__name__)
        os.environ["DATABASE_URL"] = "sqlite:///:memory:"
        import coreproj.settings
        raise RuntimeError("an unrelated crash")
        """
    )
    result = run(["python", "-c", script], env=BAD_ENV, cwd=PROJECT)
    assert result.returncode == 1
    assert result.stdout.strip() == "ConfigError"
    assert "RuntimeError: an unrelated crash" in result.stderr
    assert "ConfigError" not in result.stderr
