"""A data migration the tests can slow down or make fail, through the environment.

RELEASE_PROJECT_SLEEP=<seconds>  sleep that long inside the migration (to kill a run midway)
RELEASE_PROJECT_HOLD=<seconds>   lock flaky_marker, then make the *server* sleep that long in
                                 one statement (PostgreSQL: LOCK TABLE ... ACCESS EXCLUSIVE and
                                 pg_sleep; MySQL/MariaDB: SELECT ... FOR UPDATE and SLEEP), so a
                                 copy killed meanwhile leaves a statement running that holds the
                                 table's lock
RELEASE_PROJECT_FAIL=1           raise RuntimeError (a failing migration)
RELEASE_PROJECT_FAIL=leak        raise an error whose text contains the database password,
                                 which migrate_all must mask
RELEASE_PROJECT_FAIL=secret      raise an error quoting the settings it saw (SECRET_KEY, user,
                                 password, the whole settings dict), as a careless data
                                 migration can: migrate_all must mask every secret in it
"""

import os
import time

from django.conf import settings
from django.db import migrations, transaction


def hold(connection, seconds):
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE flaky_marker IN ACCESS EXCLUSIVE MODE")
            cursor.execute("SELECT pg_sleep(%s)", [seconds])
        elif connection.vendor == "mysql":
            cursor.execute("SELECT COUNT(*) FROM flaky_marker FOR UPDATE")
            cursor.execute("SELECT SLEEP(%s)", [seconds])
        else:
            time.sleep(seconds)


def step(apps, schema_editor):
    held = float(os.environ.get("RELEASE_PROJECT_HOLD") or 0)
    if held:
        hold(schema_editor.connection, held)
    seconds = float(os.environ.get("RELEASE_PROJECT_SLEEP") or 0)
    if seconds:
        time.sleep(seconds)
    fail = os.environ.get("RELEASE_PROJECT_FAIL", "")
    if fail == "leak":
        password = schema_editor.connection.settings_dict.get("PASSWORD")
        raise RuntimeError(f"could not log in with password {password} (on purpose)")
    if fail == "secret":
        seen = schema_editor.connection.settings_dict
        raise RuntimeError(
            f"could not sign with {settings.SECRET_KEY} for {seen['USER']}:{seen['PASSWORD']} ({seen!r})"
        )
    if fail:
        raise RuntimeError("flaky.0002 failed on purpose (RELEASE_PROJECT_FAIL is set)")
    Marker = apps.get_model("flaky", "Marker")
    Marker.objects.using(schema_editor.connection.alias).create(label="release-step")


class Migration(migrations.Migration):
    dependencies = [("flaky", "0001_initial")]
    operations = [migrations.RunPython(step, migrations.RunPython.noop)]
