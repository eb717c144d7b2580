#!/usr/bin/env python
"""manage.py of the seed project: the multi-database setup of django-cfg's guide, from the environment."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
