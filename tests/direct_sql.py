"""Read a test database directly, without Django, so a row in the wrong database cannot hide."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from tests import pg


def rows(backend: str, name: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``%s`` placeholders) on a PostgreSQL database or SQLite file; return its rows.

    ``backend`` is ``"postgresql"`` (``name`` is a database on the test server) or
    ``"sqlite"`` (``name`` is a file path). Changes are committed.
    """
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(**pg._conninfo(name), autocommit=True) as conn:  # type: ignore[arg-type]
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    with closing(sqlite3.connect(name)) as conn:
        cursor = conn.execute(sql.replace("%s", "?"), tuple(params))
        result = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        conn.commit()
        return result
