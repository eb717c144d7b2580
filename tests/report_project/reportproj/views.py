"""Views that fail the way real ones do: after a query, while connecting, on posted data."""

from __future__ import annotations

from django.db import connections
from django.http import HttpRequest, HttpResponse


def query(request: HttpRequest) -> HttpResponse:
    """Runs a real query on ``default``, then fails with the connection's settings in its locals."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        row = cursor.fetchone()
    settings_dict = connection.settings_dict  # noqa: F841 - shown on the error page
    conn_params = connection.get_connection_params()  # noqa: F841 - shown on the error page
    raise RuntimeError(f"the view failed after reading {row!r}")


def connect(request: HttpRequest, alias: str) -> HttpResponse:
    """Connects to ``alias`` (whose password is wrong): the driver's frames hold ``conninfo``."""
    connections[alias].ensure_connection()
    return HttpResponse("connected")


def echo(request: HttpRequest) -> HttpResponse:
    """Fails on whatever was posted, quoting it in the exception."""
    raise ValueError(f"cannot use {request.POST.get('value')!r}")
