"""Schemathesis against the local API's own OpenAPI document, in the suite and bounded.

The document is read from the running API (`GET /openapi.json`), so every path it lists is
fuzzed, including paths added later (no list of routes here to forget). Cases are valid and
invalid bodies, parameters and headers generated from the per-model schemas; every response
must pass all of schemathesis' checks: no 5xx (`not_a_server_error`), a documented status
(`status_code_conformance`), a documented content type and body schema
(`content_type_conformance`, `response_schema_conformance`), invalid input refused with a 4xx
(`negative_data_rejection`, with the statuses schemathesis.toml at the repository root
lists), and the rest of its defaults. The stack is `mlops local` as a child process with iris
and diabetes trained, so predictions are really served.

Bound: `FUZZ_EXAMPLES` generated cases per operation (see the module's measured time in the
README); `FUZZ_EXAMPLES=400` in the environment is the deeper run the
README quotes.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.integration.local_process import API_KEY, LocalProcess, local_process

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
#: The suite replays the same cases each run (a red CI must mean a change broke something);
#: FUZZ_RANDOM=1 explores new ones, as a deeper run with FUZZ_EXAMPLES=400 should.
FUZZ_RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
STATUSES: collections.Counter[str] = collections.Counter()  # (operation, status) tallies
#: Negative cases add random headers; these few frame the HTTP message itself (a client library
#: sets them from the body it sends), so a random value there tests the HTTP library, not the
#: API: `Content-Length: 52` with no body makes any server wait for 52 bytes. The local server
#: answers a non-numeric one with 400 (tests/integration/test_local_stack.py).
FRAMING_HEADERS = {"content-length", "transfer-encoding", "host", "connection", "expect"}


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with local_process(tmp) as stack:
        data = tmp / "data"
        assert stack.cli("examples", str(data)).returncode == 0
        for model in ("iris", "diabetes"):
            trained = stack.cli("train", model, str(data / f"{model}.csv"))
            assert trained.returncode == 0, trained.stdout
            stack.wait_for(
                f"{model} in production",
                lambda m=model: stack.http("GET", f"/models/{m}").status == 200,
            )
        yield stack


def _runtime_valued(operation: schemathesis.APIOperation) -> bool:
    """Whether the operation's body has a value set the document cannot list: a classifier's
    feedback `actual` (its classes belong to the serving version, not to the spec)."""
    body = operation.definition.raw.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    item = schema.get("properties", {}).get("feedback", {}).get("items", {})
    return bool(item.get("properties", {}).get("actual", {}).get("type") != "number" and item)


def only_unknown_classes_refused(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """In place of positive_data_acceptance where a label is valid only if it is a class of
    the serving version: schema-valid feedback may get 422 only for `actual` not being a
    class; any other refusal of schema-valid data still fails."""
    if response.status_code < 400:
        return True
    body = response.json()
    violations = body.get("error", {}).get("details", {}).get("violations", [])
    unexplained = [
        v
        for v in violations
        if v.get("location", [None])[-1] != "actual" or "is not a class" not in v["message"]
    ]
    if response.status_code != 422 or not violations or unexplained:
        raise AssertionError(f"schema-valid feedback refused with {response.status_code}: {body}")
    return True


#: What JSON Schema cannot say about a v2 infer body (the route's description states both):
#: that a tensor's `data` holds the element count its `shape` declares, and that every input
#: tensor has the same number of rows.
SHAPE_RULES = ("data must hold the", "every input needs the same number of rows")


def _shape_bound(operation: schemathesis.APIOperation) -> bool:
    """Whether the operation is the Open Inference Protocol's infer route."""
    return operation.method.upper() == "POST" and operation.path.endswith("/infer")


def only_shape_mismatches_refused(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """In place of positive_data_acceptance on v2 infer: schema-valid tensors may get 422 only
    for a shape the data does not fill or row counts that differ between tensors; any other
    refusal of schema-valid data still fails."""
    if response.status_code < 400:
        return True
    body = response.json()
    violations = body.get("details", {}).get("violations", [])
    unexplained = [v for v in violations if not any(rule in v["message"] for rule in SHAPE_RULES)]
    if response.status_code != 422 or not violations or unexplained:
        raise AssertionError(f"schema-valid tensors refused with {response.status_code}: {body}")
    return True


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> list[str]:
    """Run `FUZZ_EXAMPLES` cases of one operation in one mode; the failures, as text."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,  # a version's first request loads its model; the bound is the count
        database=None,  # no example database written into the repository
        suppress_health_check=list(HealthCheck),
        derandomize=not FUZZ_RANDOM,
    )
    def run(case: schemathesis.Case) -> None:
        assume(not FRAMING_HEADERS & {name.lower() for name in case.headers or {}})
        try:
            if mode is GenerationMode.POSITIVE and _runtime_valued(operation):
                response = case.call_and_validate(
                    headers={"x-api-key": API_KEY},
                    excluded_checks=[positive_data_acceptance],
                    additional_checks=[only_unknown_classes_refused],
                )
            elif mode is GenerationMode.POSITIVE and _shape_bound(operation):
                response = case.call_and_validate(
                    headers={"x-api-key": API_KEY},
                    excluded_checks=[positive_data_acceptance],
                    additional_checks=[only_shape_mismatches_refused],
                )
            else:
                response = case.call_and_validate(headers={"x-api-key": API_KEY})
            STATUSES[f"{mode.value} {operation.label} -> {response.status_code}"] += 1
        except AssertionError as failure:  # schemathesis' FailureGroup is one
            failures.append(f"{operation.label} ({mode.value}): {failure}")
            raise

    try:
        run()
    except Exception as error:  # hypothesis re-raises the shrunk failure
        if not failures:
            failures.append(f"{operation.label} ({mode.value}): {error!r}")
    return failures[-1:]  # the shrunk (minimal) case: the last one raised


def test_every_documented_operation_holds_its_contract(fuzzed_stack: LocalProcess) -> None:
    schema = schemathesis.openapi.from_url(
        f"{fuzzed_stack.api_url}/openapi.json",
        config=SchemathesisConfig.from_path(CONFIG),
        headers={"x-api-key": API_KEY},
    )
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an invalid operation: {result.err()}"
        operations.append(result.ok())
    labels = {operation.label for operation in operations}
    # The document lists every route of both declared models (a lost path is a failure too).
    for model in ("iris", "diabetes"):
        assert f"POST /models/{model}/predict" in labels, labels
        assert f"GET /models/{model}" in labels, labels
        assert f"POST /models/{model}/feedback" in labels, labels
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in _fuzz(operation, mode)
    ]
    print(f"fuzz: {sum(STATUSES.values())} cases, {FUZZ_EXAMPLES} max per operation and mode")
    for label, count in sorted(STATUSES.items()):
        print(f"  {count:5d}  {label}")
    assert not failures, "\n\n".join(failures)
