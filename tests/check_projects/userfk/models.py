from django.conf import settings
from django.db import models


class Profile(models.Model):
    """djcfg_env.W002 when userfk is not on the user model's alias: no db_constraint=False."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
