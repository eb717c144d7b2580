#!/usr/bin/env python
"""manage.py for the check scenarios: the seed project (tests/seed_project) plus the apps in EXTRA_APPS.

The apps here (badfk, badm2m, m2mthrough, m2mlink, userfk) each make one
system check fire when routed as the test says.
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parent / "seed_project")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
