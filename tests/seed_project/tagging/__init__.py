"""Tags on any object (a GenericForeignKey), on ``default`` next to contenttypes: only with EXTRA_APPS."""
