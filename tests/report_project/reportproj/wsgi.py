"""The WSGI application gunicorn serves (``gunicorn reportproj.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reportproj.settings")
application = get_wsgi_application()
