"""An app whose only migration fails, quoting secrets in its error (enabled by REVIEW_EXTRA_APPS=boom)."""
