"""The seed's URLs: the admin, when ``EXTRA_APPS`` installs it."""

from django.apps import apps
from django.urls import URLPattern, URLResolver, path

urlpatterns: list[URLPattern | URLResolver] = []
if apps.is_installed("django.contrib.admin"):
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
