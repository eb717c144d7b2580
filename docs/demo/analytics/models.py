from django.db import models


class Signup(models.Model):
    """A read-only view of the users table, read from the analytics replica.

    The analytics alias is marked ``read_only=true``: nothing is ever migrated
    or written there, so the model is unmanaged.
    """

    username = models.CharField(max_length=150)
    date_joined = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "auth_user"
