"""serverless-mlops: the domain code shared by the functions, the CLI and the local stack."""

__version__ = "0.1.0"
