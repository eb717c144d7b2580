import reversion
from django.db import models
from taggit.managers import TaggableManager


@reversion.register()
class Product(models.Model):
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    tags = TaggableManager(blank=True)

    def __str__(self):
        return self.name
