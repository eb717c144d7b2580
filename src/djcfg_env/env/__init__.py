"""Configuration: environment mapping in, :class:`~djcfg_env.env.config.Settings` out.

Pure: nothing here imports Django's run time (models, connections, the app
registry) or reads anything but the mapping it is given. The data flows one way:

``grammar`` (which variables are aliases and routes, and how each is spelled) ->
``urls`` (``${VAR}``, dj-database-url, masking) -> ``schema`` (marshmallow fields
for every value) -> ``loader`` (:func:`load`, every problem at once) ->
``config`` (:class:`Settings`); ``errors`` holds :class:`ConfigError`.
"""
