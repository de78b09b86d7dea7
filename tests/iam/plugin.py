"""pytest plugin (`-p tests.iam.plugin` in pyproject): record every AWS call a handler makes in
the integration tests and fail the test whose call the function's role would not allow on AWS.

A call belongs to the innermost `functions/<folder>/handler.py` on the calling thread's stack;
calls made by test setup or the CLI (no handler on the stack) are not the functions' and are not
checked. At the end of the run, grants that no recorded call needed are listed ("not exercised":
either dead permissions or behaviour no test covers) in the terminal summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from tests.iam.actions import Call
from tests.iam.contract import Contract

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
INTEGRATION_DIR = REPO_ROOT / "tests" / "integration"
REPORT_DIR_NAME = "iam-contract"
# Used by the Lambda service with the function's role, never by our code: logs and traces, and
# the SQS event source mapping's polling. Left out of the "not exercised" report.
USED_BY_THE_LAMBDA_SERVICE = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}

# (function folder, MODEL_NAME, the declared specs' folder, the call)
RecordedCall = tuple[str, str | None, str | None, Call]


def specs_in_effect() -> str | None:
    """The specs folder the functions read (MLOPS_SPECS_DIR), or None for the repository's
    models/ (or a copy of it): a test that declares another model deploys another template."""
    from mlops.spec.files import SPECS_DIR_ENV

    folder = os.environ.get(SPECS_DIR_ENV)
    if folder is None or _specs_digest(Path(folder)) == _specs_digest(REPO_ROOT / "models"):
        return None
    return folder


def _specs_digest(folder: Path) -> str:
    """The specs' content digest, re-read only when a file's size or mtime changes (this runs
    on every recorded call)."""
    specs = sorted(folder.glob("*.toml"))
    stamp = (str(folder), *((s.name, s.stat().st_mtime_ns, s.stat().st_size) for s in specs))
    if stamp not in _DIGESTS:
        digest = hashlib.sha256()
        for spec in specs:
            digest.update(spec.name.encode() + b"\0" + spec.read_bytes() + b"\0")
        _DIGESTS[stamp] = digest.hexdigest()
    return _DIGESTS[stamp]


_DIGESTS: dict[tuple[object, ...], str] = {}


def contract(specs_dir: str | None = None) -> Contract:
    """The app synthesized (stand-in layers) for these specs, resolved for moto's account; one
    synthesis per process and per distinct set of specs."""
    key = _specs_digest(Path(specs_dir)) if specs_dir else ""
    if key not in _CONTRACTS:
        _CONTRACTS[key] = _synthesized_contract(Path(specs_dir) if specs_dir else None)
    return _CONTRACTS[key]


_CONTRACTS: dict[str, Contract] = {}


def _synthesized_contract(specs_dir: Path | None) -> Contract:
    from mlops.local.provision import LOCAL_ACCOUNT, LOCAL_REGION, local_names
    from tests.iam.template import ResolvedTemplate
    from tests.infra.conftest import synthesize

    workdir = Path(tempfile.mkdtemp(prefix="iam-contract-"))
    layer = workdir / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "stand_in.py").write_text("# stand-in layer\n")
    # The handlers under test name their resources with the local stack's prefix: the roles
    # they are checked against must grant on the same names.
    synthesized = synthesize(
        workdir / "cdk.out",
        layer,
        checks=False,
        specs_dir=specs_dir,
        context={"prefix": local_names().prefix},
    )
    resolved = ResolvedTemplate(synthesized.json, account=LOCAL_ACCOUNT, region=LOCAL_REGION)
    return Contract(resolved, local_names())


def calling_function() -> str | None:
    """The `functions/<folder>` whose handler is the innermost one on this thread's stack."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.name == "handler.py" and path.parent.parent == FUNCTIONS_DIR:
            return path.parent.name
        frame = frame.f_back  # type: ignore[assignment]
    return None


def check(calls: list[RecordedCall]) -> list[str]:
    """Every violation of the contract among `calls`."""
    problems: list[str] = []
    for function, model, specs_dir, call in calls:
        problems += contract(specs_dir).violations(function, model, call)
    return problems


@pytest.fixture(autouse=True)
def iam_contract(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[RecordedCall]]:
    """Record the handlers' AWS calls in integration tests; check them at teardown."""
    calls: list[RecordedCall] = []
    if not Path(str(request.node.path)).is_relative_to(INTEGRATION_DIR):
        yield calls
        return
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        function = calling_function()
        if function is not None:
            service = client.meta.service_model.service_name
            calls.append(
                (
                    function,
                    os.environ.get("MODEL_NAME"),
                    specs_in_effect(),
                    Call(service, operation, params),
                )
            )
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    yield calls
    monkeypatch.undo()
    problems = check(calls)
    if problems:
        pytest.fail(
            "IAM least-privilege contract (tests/iam): the deployed role would refuse:\n  "
            + "\n  ".join(sorted(set(problems))),
            pytrace=False,
        )


def _report_dir(config: pytest.Config) -> Path:
    return Path(str(config.rootpath)) / ".pytest_cache" / REPORT_DIR_NAME


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        folder = _report_dir(session.config)
        for stale in folder.glob("*.json"):
            stale.unlink()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "" not in _CONTRACTS:
        return  # no handler made a call against the repository's specs in this process
    folder = _report_dir(session.config)
    folder.mkdir(parents=True, exist_ok=True)
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    built = _CONTRACTS[""]
    (folder / f"{worker}.json").write_text(
        json.dumps({"grants": built.grants(), "exercised": sorted(built.exercised)})
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    reports = [json.loads(p.read_text()) for p in sorted(_report_dir(config).glob("*.json"))]
    if not reports:
        return
    grants = {tuple(g) for report in reports for g in report["grants"]}
    exercised = {tuple(e) for report in reports for e in report["exercised"]}
    unused = sorted(g for g in grants - exercised if g[2] not in USED_BY_THE_LAMBDA_SERVICE)
    terminalreporter.section("IAM contract: grants no integration test exercised")
    for role, label, action in unused:
        terminalreporter.write_line(f"{role} {action} ({label})")
    terminalreporter.write_line(f"{len(unused)} of {len(grants)} granted actions not exercised")
