"""The same project tested the pytest-django way (collected by this project's pytest.ini)."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from djcfg_env import ReadOnlyDatabaseError, allow_writes

ALL = ["default", "notes_db", "warehouse", "replica"]


@pytest.fixture
def warehouse(db):
    from reports.models import CREATE_TABLE, Report

    with allow_writes("warehouse"):
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(CREATE_TABLE)
        Report.objects.create(id=7, title="from a fixture")
    return Report


@pytest.mark.django_db(databases=ALL)
def test_notes_go_to_notes_db(django_user_model):
    from notes.models import Note

    user = django_user_model.objects.create_user("carl")
    Note.objects.create(title="n", author=user)
    with connections["notes_db"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM notes_note")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(databases=ALL)
def test_read_only_alias_filled_by_a_fixture_refuses_writes(warehouse):
    assert list(warehouse.objects.values_list("title", flat=True)) == ["from a fixture"]
    with pytest.raises(ReadOnlyDatabaseError):
        warehouse.objects.filter(pk=7).update(title="changed")


@pytest.mark.django_db(databases=["default", "replica"], transaction=True)
def test_replica_mirrors_default():
    User.objects.create_user("dora")
    assert User.objects.using("replica").filter(username="dora").exists()


def test_each_xdist_worker_has_its_own_test_databases(request):
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if not worker:
        pytest.skip("not run by a pytest-xdist worker")
    for alias in ("default", "notes_db", "warehouse"):
        connection = connections[alias]
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            continue  # private to this worker's process anyway
        assert worker in str(connection.settings_dict["NAME"]), alias
