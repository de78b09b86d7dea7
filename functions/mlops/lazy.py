"""Package exports imported on first use (PEP 562), for packages on the predict cold path.

`mlops.registry` and `mlops.spec` re-export pydantic models that the predict function never
uses; importing them eagerly cost it ~150 ms per cold start (benchmarks/results/latest.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, homes: dict[str, tuple[str, ...]], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module `__getattr__` that imports each name from its home module on first access
    and caches it in the package's namespace."""
    module_of = {name: module for module, names in homes.items() for name in names}

    def getattr_on_first_use(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return getattr_on_first_use
