"""Relations across databases: on_delete across aliases and the cross-database join guard."""

from __future__ import annotations


def install() -> None:
    """Connect the cross-database relation handling (called from the app's ready())."""
