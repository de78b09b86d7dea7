"""Errors raised by the registry."""


class RegistryError(RuntimeError):
    """Base class for registry errors."""


class RunInProgressError(RegistryError):
    """Another invocation holds this run's lease; the message should be retried later."""


class RunLostError(RegistryError):
    """This invocation's claim on the run was taken over (its lease expired); stop quietly."""


class VersionNotFoundError(RegistryError):
    """No such model version in the registry."""
