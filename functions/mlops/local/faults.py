"""Test-only fault injection on the local stack, per model version (MLOPS_LOCAL_FAULTS).

`MLOPS_LOCAL_FAULTS="iris:3=slow:250,diabetes:2=error"`: the execution environment of any
function version that pins that model version gets `MLOPS_FAULT_INJECTION=<fault>` added to
the environment it is built from (mlops.serving.faults: `error` answers 500, `slow:<ms>` adds
that much model latency, `invalid` returns impossible outputs). Like AWS FIS's Lambda faults,
it is attached from outside the code under test, to one version; nothing deployed sets it.
It exists to prove, through HTTP and the CLI only, that a broken candidate is rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mlops.serving.faults import parse_fault

FAULTS_ENV = "MLOPS_LOCAL_FAULTS"


def parse_local_faults(text: str) -> dict[tuple[str, int], str]:
    """`model:version=fault[,...]` -> {(model, version): fault}; ValueError names a bad entry."""
    faults: dict[tuple[str, int], str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        target, _, fault = entry.partition("=")
        model, _, version = target.partition(":")
        if not model or not version.isdigit() or not fault:
            raise ValueError(f"{FAULTS_ENV}: expected model:version=fault, got {entry!r}")
        parse_fault(fault)
        faults[(model, int(version))] = fault
    return faults


def with_local_fault(
    variables: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The version's environment, plus its fault if MLOPS_LOCAL_FAULTS names its model version."""
    faults = parse_local_faults((os.environ if env is None else env).get(FAULTS_ENV, ""))
    found = dict(variables)
    key = (found.get("MODEL_NAME", ""), int(found.get("MODEL_VERSION") or 0))
    if key in faults:
        found["MLOPS_FAULT_INJECTION"] = faults[key]
    return found
