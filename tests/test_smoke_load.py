import djcfg_env


def test_load_minimal_sqlite():
    settings = djcfg_env.load({"DATABASE_URL": "sqlite:///db.sqlite3", "SECRET_KEY": "k"})
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.DATABASE_ROUTERS == ["djcfg_env.router.AppDatabaseRouter"]
