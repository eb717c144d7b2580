"""A minimal Django project whose settings.py is what djcfg-env's README tells users to write."""
