"""Errors raised while loading or running a model artifact."""


class ModelLoadError(RuntimeError):
    """The artifact cannot be served: missing, corrupt, or failing its sha256 check."""


class ArtifactIntegrityError(ModelLoadError):
    """The artifact's sha256 differs from the one the registry recorded: refuse to serve it."""
