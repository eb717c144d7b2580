"""Fails the way a careless data migration can: its error quotes the settings it saw."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations


def fail(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    raise RuntimeError(
        f"could not sign with {settings.SECRET_KEY} for {connection.settings_dict['USER']}:"
        f"{connection.settings_dict['PASSWORD']} ({connection.settings_dict!r})"
    )


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(fail, migrations.RunPython.noop)]
