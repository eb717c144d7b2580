from django.db import models


class Link(models.Model):
    club = models.ForeignKey("m2mthrough.Club", on_delete=models.CASCADE, db_constraint=False)
    member = models.ForeignKey("m2mthrough.Member", on_delete=models.CASCADE, db_constraint=False)
