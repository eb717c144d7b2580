from django.db import models


class Member(models.Model):
    pass


class Club(models.Model):
    """Both ends here; the through model in m2mlink (djcfg_env.E002 when m2mlink is elsewhere)."""

    members = models.ManyToManyField(Member, through="m2mlink.Link")
