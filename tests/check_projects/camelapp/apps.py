from django.apps import AppConfig


class CamelAppConfig(AppConfig):
    """An app whose label has capitals: DB_ROUTE_CAMELAPP must still route it."""

    name = "camelapp"
    label = "CamelApp"
    default_auto_field = "django.db.models.AutoField"
