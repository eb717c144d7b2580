"""The ORM run time: what djcfg-env does while queries run, behind the ``DJCFG_ENV`` switches.

``placement`` answers "which alias does this model live on" for everything else
(the router, the checks, the guards, ``migrate_all``); ``switches`` is the one
registry of every change made to Django's behaviour, installed from
``AppConfig.ready()``; the other modules are the features it installs:
``readonly`` (READ_ONLY_GUARD), ``join_guard`` (JOIN_GUARD), ``cross_delete``
(CROSS_DATABASE_DELETE) and ``generic_relations`` (GENERIC_RELATIONS).
"""
