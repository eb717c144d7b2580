"""The release phase: ``manage.py migrate_all``.

``plan`` (which aliases, which apps, which migrations) -> ``locks`` (one copy
migrates a database at a time) -> ``run`` (the orchestration) -> ``report`` (per-alias
outcomes, the summary, exit codes). ``djcfg_env.management.commands.migrate_all``
only adapts Django's command-line handling to :mod:`djcfg_env.release.run`.
"""
