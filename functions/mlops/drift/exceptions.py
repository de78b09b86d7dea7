"""Errors raised when drift inputs cannot be read or compared."""

from __future__ import annotations


class DriftInputError(ValueError):
    """A reference or window cannot be used as given: the message says which column and why."""
