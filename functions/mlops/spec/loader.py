"""Finds and parses spec files. Specs travel as files bundled with the code (DESIGN §7)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from mlops.spec.exceptions import SpecError, UnknownModelError
from mlops.spec.files import default_specs_dir
from mlops.spec.model import ModelSpec


def parse_spec(path: Path) -> ModelSpec:
    """Read and validate one spec file; every problem becomes one readable SpecError."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SpecError(f"{path}: no such spec file") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: not valid TOML: {error}") from error
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'spec'}: {item['msg']}"
            for item in error.errors()
        )
        raise SpecError(f"{path}: {problems}") from error
    if path.stem != spec.name:
        raise SpecError(f"{path}: file name must be '{spec.name}.toml' to match the spec's name")
    return spec


def load_all_specs(specs_dir: Path | None = None) -> dict[str, ModelSpec]:
    """Every spec in the folder, by name."""
    folder = specs_dir or default_specs_dir()
    return {spec.name: spec for spec in (parse_spec(p) for p in sorted(folder.glob("*.toml")))}


@lru_cache(maxsize=64)
def _load_cached(name: str, folder: str, modified_ns: int) -> ModelSpec:
    return parse_spec(Path(folder) / f"{name}.toml")


def load_spec(name: str, specs_dir: Path | None = None) -> ModelSpec:
    """The spec of one model; UnknownModelError if none declares it.

    Cached per (name, folder, modification time): a warm Lambda environment parses each spec
    once, and an edited spec is re-read (the local stack keeps running while you edit).
    """
    folder = specs_dir or default_specs_dir()
    path = folder / f"{name}.toml"
    try:
        modified_ns = path.stat().st_mtime_ns
    except FileNotFoundError as error:
        raise UnknownModelError(f"no model named '{name}' (no {name}.toml in {folder})") from error
    return _load_cached(name, str(folder), modified_ns)
