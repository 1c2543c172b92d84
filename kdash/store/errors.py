"""What a store problem says: one line for a person, never a traceback."""

from __future__ import annotations




class StoreError(Exception):
    """A store problem explained in one line for a person (no traceback)."""
