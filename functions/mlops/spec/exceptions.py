"""Errors raised while loading or checking a model spec."""


class SpecError(ValueError):
    """A spec file is missing, unreadable or invalid; the message says which and why."""


class UnknownModelError(SpecError):
    """No spec declares a model of this name."""
