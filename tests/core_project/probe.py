"""Run one SQL statement on one alias through Django, with settings from ``djcfg_env.load()``.

Usage: ``python tests/core_project/probe.py <alias> <sql>`` with the djcfg-env
variables in the environment. Django is configured with ``settings.configure``
from the resolved :class:`djcfg_env.Settings` (no DJANGO_SETTINGS_MODULE), so a
test sees exactly the connection ``load()`` built. Prints one JSON object:
``{"rows": [...], "pool": bool}`` (exit 0) or ``{"error": class, "message": text}``
(exit 3) when the database refuses.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings

from djcfg_env import load


def main(argv: list[str]) -> int:
    alias, sql = argv[1], argv[2]
    resolved = load()
    settings.configure(**resolved.as_django_settings(), INSTALLED_APPS=[], USE_TZ=True)
    django.setup()
    from django.db import DatabaseError, connections

    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall() if cursor.description else []
        pooled = getattr(connection, "pool", None) is not None
    except DatabaseError as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        return 3
    finally:
        connections.close_all()
    print(json.dumps({"rows": rows, "pool": pooled}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
