"""Renders what Django shows for a failing request, as JSON: the test suite asserts no secret is in it.

Run in this directory with the environment under test. Each view fails through Django's test
client (``raise_request_exception=False``), with ``request.META`` holding the whole environment
as under ``runserver`` (wsgiref copies ``os.environ`` into every request): the DEBUG page as
HTML and as text, and, with DEBUG off, the report ``AdminEmailHandler`` mails (text and HTML).
"""

from __future__ import annotations

import json
import logging
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reportproj.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils.log import AdminEmailHandler  # noqa: E402
from django.views.debug import get_exception_reporter_class, get_exception_reporter_filter  # noqa: E402

setup_test_environment()
for handler in logging.getLogger("django").handlers:
    if isinstance(handler, AdminEmailHandler):
        handler.include_html = True
logging.getLogger("django.request").addHandler(logging.NullHandler())

environ = dict(os.environ)
client = Client(raise_request_exception=False)
shown: dict[str, object] = {
    "filter": settings.DEFAULT_EXCEPTION_REPORTER_FILTER,
    "filter_used": type(get_exception_reporter_filter(None)).__qualname__,
    "reporter_used": get_exception_reporter_class(None).__qualname__,
}
requests = {
    "query": ("get", "/query/?next=/home&q=" + os.environ.get("DB_PASSWORD", ""), {}),
    "connect": ("get", "/connect/wrong/", {}),
    "echo": ("post", "/echo/", {"value": os.environ.get("DB_PASSWORD", ""), "other": "plain"}),
}
for page in sys.argv[1:] or list(requests):
    method, path, data = requests[page]
    for kind, accept in (("html", "text/html"), ("text", "text/plain")):
        response = getattr(client, method)(path, data, HTTP_ACCEPT=accept, **environ)
        shown[f"{page}_{kind}"] = response.content.decode()
        shown[f"{page}_{kind}_status"] = response.status_code
    mail.outbox.clear()
    with override_settings(DEBUG=False):
        getattr(client, method)(path, data, **environ)
    shown[f"{page}_mail"] = [
        {
            "subject": message.subject,
            "body": message.body,
            "html": [str(content) for content, _ in getattr(message, "alternatives", [])],
        }
        for message in mail.outbox
    ]
print(json.dumps(shown))
