"""A table of CLI misuses: each ends in a clear message and a non-zero exit, never a Python
traceback, a hang or an empty success (issue #14, "No tracebacks, no hangs, no silent nothing").
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import mlops.cli.drift_commands  # registers `drift` and `report` on the app
import mlops.cli.history_commands  # noqa: F401  (registers `history` on the app)
from mlops.cli.main import app
from mlops.local.stack import LocalStack, LocalState
from mlops.spec.files import SPECS_DIR_ENV
from mlops.spec.loader import _load_cached

MODELS = Path(__file__).resolve().parents[2] / "models"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def _assert_refused(result: Result, code: int, *phrases: str) -> None:
    """Exit code, message, and no traceback (a raised exception other than SystemExit would
    print one from the real entry point)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())  # rich wraps long lines at the terminal's width
    for phrase in phrases:
        assert phrase in text, result.output


@dataclass
class RunningStack:
    stack: LocalStack
    home: Path
    tmp: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One local stack for the whole table, with iris trained and promoted."""
    from mlops.examples import iris_csv

    tmp = tmp_path_factory.mktemp("misuse")
    saved = dict(os.environ)
    with pytest.MonkeyPatch.context() as patch:
        specs = tmp / "models"
        specs.mkdir()
        for spec in MODELS.glob("*.toml"):
            (specs / spec.name).write_text(spec.read_text())
        patch.setenv(SPECS_DIR_ENV, str(specs))
        patch.setenv("MLOPS_HOME", str(tmp / ".mlops"))
        patch.setenv("MLOPS_RUNTIME_DIR", str(tmp / "running"))
        patch.setenv("MLOPS_LOCAL_API_KEY", "test-key")
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MLOPS_STACK"):
            patch.delenv(key, raising=False)
        _load_cached.cache_clear()
        stack = LocalStack(moto_port=0, api_port=0, say=lambda line: None, poll_seconds=0.2)
        stack.start()
        try:
            data = tmp / "iris.csv"
            data.write_bytes(iris_csv())
            assert _run("train", "iris", str(data), "--timeout", "120").exit_code == 0
            # The rollout reconciler promotes the first model by itself (on ModelRegistered);
            # a `promote` racing it could find v1 already in production and fail the fixture.
            deadline = time.monotonic() + 60
            while "production v1" not in " ".join(_run("status", "iris").output.split()):
                assert time.monotonic() < deadline, _run("status", "iris").output
                time.sleep(0.3)
            time.sleep(1.1)  # the local API re-reads alias `live` at most once a second
            yield RunningStack(stack, tmp / ".mlops", tmp)
        finally:
            stack.stop()
            os.environ.clear()
            os.environ.update(saved)
            _load_cached.cache_clear()
            from mlops.clients import reset_clients

            reset_clients()


# -- mlops local ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "what"), [("--port", "prediction API"), ("--moto-port", "moto")]
)
def test_local_on_a_taken_port_fails_fast_naming_the_port_and_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, what: str
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        other = "--moto-port" if option == "--port" else "--port"
        started = time.monotonic()
        result = _run("local", option, str(port), other, str(_free_port()))
        elapsed = time.monotonic() - started
    _assert_refused(result, 2, f"port {port}", what, option)
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert not (tmp_path / "local.json").exists()  # refused before anything started


def test_moto_failing_to_bind_raises_instead_of_waiting_for_ever() -> None:
    """The window between the preflight check and the bind: moto's own server hung there."""
    from mlops.local.moto_server import WatchedMotoServer

    with socket.create_server(("127.0.0.1", 0)) as taken:
        server = WatchedMotoServer("127.0.0.1", taken.getsockname()[1], on_write=lambda: None)
        started = time.monotonic()
        with pytest.raises(OSError, match="in use"):
            server.start()
    assert time.monotonic() - started < 5


def test_local_refuses_a_folder_another_running_stack_uses(running: RunningStack) -> None:
    result = _run("local", "--port", str(_free_port()), "--moto-port", str(_free_port()))
    _assert_refused(result, 2, "already running", "MLOPS_HOME")
    assert LocalState.load(running.home) is not None  # the running stack's file is untouched


def test_a_stale_state_file_names_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    dead = f"http://127.0.0.1:{_free_port()}"
    LocalState(dead, dead, "key", "us-east-1", "mlops", os.getpid()).save(tmp_path)
    _assert_refused(_run("models"), 2, "does not answer", "start `mlops local` again")


def test_no_stack_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("MLOPS_RUNTIME_DIR", str(tmp_path / "running"))
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    _assert_refused(_run("models"), 2, "no local stack is running")


def test_the_cli_finds_the_running_stack_from_outside_the_project(
    running: RunningStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME")
    monkeypatch.chdir(tmp_path)  # no .mlops here or above
    result = _run("models")
    assert result.exit_code == 0, result.output
    assert "iris" in result.output


# -- predict -------------------------------------------------------------------------------
def test_predict_with_malformed_json_says_where(running: RunningStack) -> None:
    _assert_refused(_run("predict", "iris", "--json", "{bad"), 2, "--json is not valid JSON")


def test_predict_csv_drops_the_target_column_and_says_so(running: RunningStack) -> None:
    from mlops.examples import iris_csv

    data = running.tmp / "with-target.csv"
    data.write_bytes(b"\n".join(iris_csv().splitlines()[:4]) + b"\n")
    result = _run("predict", "iris", "--csv", str(data))
    assert result.exit_code == 0, result.output
    assert "dropped column 'species'" in result.output
    assert "setosa" in result.output


def test_predict_violations_are_a_table_not_a_dict(running: RunningStack) -> None:
    data = running.tmp / "bad-rows.csv"
    data.write_text(
        "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
        "abc,3.0,1.4,0.2\n5.1,3.5,1.4,99\n"
    )
    result = _run("predict", "iris", "--csv", str(data))
    _assert_refused(result, 1, "422 schema_violation", "violations", "sepal length (cm)")
    assert "{'row'" not in result.output


@pytest.mark.parametrize(
    ("content", "phrase"),
    [("", "is empty"), ("sepal length (cm),sepal width (cm)\n", "no rows")],
)
def test_predict_with_an_empty_csv_is_an_error_not_an_empty_table(
    running: RunningStack, content: str, phrase: str
) -> None:
    data = running.tmp / "empty.csv"
    data.write_text(content)
    _assert_refused(_run("predict", "iris", "--csv", str(data)), 2, phrase)


# -- unknown models --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("models", "nosuch"),
        ("promote", "wine", "1"),
        ("predict", "wine", "--json", "{}"),
        ("status", "wine"),
        ("rollback", "wine"),
        ("drift", "wine"),
        ("report", "wine"),
        ("history", "wine"),
    ],
)
def test_an_undeclared_model_is_named_as_such(running: RunningStack, args: tuple[str, ...]) -> None:
    _assert_refused(_run(*args), 2, "is not a declared model", "iris")


def test_train_of_an_undeclared_model_uploads_nothing(running: RunningStack) -> None:
    from mlops.clients import client

    data = running.tmp / "wine.csv"
    data.write_text("a,b\n1,2\n")
    _assert_refused(_run("train", "wine", str(data)), 2, "'wine' is not a declared model")
    listed = client("s3").list_objects_v2(
        Bucket=running.stack.names.data_bucket, Prefix="training/wine/"
    )
    assert listed.get("KeyCount", 0) == 0


def test_promote_of_a_version_the_registry_does_not_have_says_so(running: RunningStack) -> None:
    _assert_refused(_run("promote", "iris", "7"), 1, "iris has no version 7")


def test_drift_now_without_a_production_version_returns_at_once(running: RunningStack) -> None:
    # diabetes is declared but never trained here: the check would record nothing to wait for.
    _assert_refused(_run("drift", "diabetes", "--now", "--timeout", "30"), 1, "nothing to check")


def test_a_declared_model_without_runs_says_so(running: RunningStack) -> None:
    result = _run("models", "diabetes")
    assert result.exit_code == 0, result.output
    assert "no training runs yet" in result.output


# -- what rich would have eaten ----------------------------------------------------------------
def test_reason_codes_survive_in_the_models_table(running: RunningStack) -> None:
    from mlops.examples import broken_iris_csv

    bad = running.tmp / "broken.csv"
    bad.write_bytes(broken_iris_csv())
    assert _run("train", "iris", str(bad), "--timeout", "120").exit_code == 1
    result = _run("models", "iris")  # 80 columns: reasons are printed whole, below the table
    assert result.exit_code == 0, result.output
    assert "[non_numeric_value]" in result.output and "[missing_target]" in result.output


def test_spec_validate_prints_no_markup_literally(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\ntask = "nonsense"\n')
    result = _run("spec", "validate", str(bad))
    _assert_refused(result, 1, "invalid", "task")
    assert "[red]" not in result.output and "[/red]" not in result.output


def test_spec_estimators_shows_whole_names_at_80_columns() -> None:
    from mlops.spec import ESTIMATORS

    result = _run("spec", "estimators")
    assert result.exit_code == 0
    for name in ESTIMATORS:
        assert name in result.output, name


def test_a_deployed_stack_that_cannot_be_read_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the real entry point (`main`), with no AWS credentials at all."""
    import sys

    from mlops.cli.main import main
    from mlops.clients import reset_clients

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(key, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(sys, "argv", ["mlops", "models", "--stack", "Nope"])
    reset_clients()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        reset_clients()
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert "cannot call AWS for stack Nope" in " ".join(captured.out.split())
    assert "Traceback" not in captured.out + captured.err
