"""The notes app (unrouted: ``default``, with auth): every relation stays in one database."""

from __future__ import annotations

from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Notebook(models.Model):
    title = models.CharField(max_length=100)


class Note(models.Model):
    # Deleting a notebook deletes its notes, and their rows in the labels' through table.
    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=200)
    rank = models.IntegerField()
    labels = models.ManyToManyField(Label, related_name="notes")
