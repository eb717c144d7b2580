"""Books with generic tags: routed away from ``default`` by the tests, only with EXTRA_APPS."""
