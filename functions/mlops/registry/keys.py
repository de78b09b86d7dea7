"""The registry table's key layout, shared by the store and the serving view."""

from __future__ import annotations


def model_pk(model: str) -> str:
    return f"MODEL#{model}"


def version_sk(version: int) -> str:
    return f"VERSION#{version:08d}"
