"""`mlops spec init` on data the code has never seen (the 64-pixel digits, plus a categorical
column), then `mlops train` of the drafted spec through the local stack: registered."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local.stack import LocalStack
from mlops.spec.files import SPECS_DIR_ENV
from mlops.spec.loader import _load_cached


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    saved = dict(os.environ)
    (tmp_path / "models").mkdir()
    monkeypatch.setenv(SPECS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    monkeypatch.setenv("MLOPS_RUNTIME_DIR", str(tmp_path / "running"))
    monkeypatch.setenv("MLOPS_LOCAL_API_KEY", "test-key")
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MLOPS_STACK"):
        monkeypatch.delenv(key, raising=False)
    _load_cached.cache_clear()
    local = LocalStack(moto_port=0, api_port=0, say=lambda line: None, poll_seconds=0.2)
    local.start()
    yield local
    local.stop()
    os.environ.clear()
    os.environ.update(saved)
    _load_cached.cache_clear()
    from mlops.clients import reset_clients

    reset_clients()


def _digits_with_a_categorical() -> bytes:
    import sklearn.datasets

    digits = sklearn.datasets.load_digits()
    scanners = np.random.default_rng(7).choice(["flatbed", "phone"], size=len(digits.target))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*digits.feature_names, "scanner", "digit"])
    for row, scanner, label in zip(digits.data, scanners, digits.target, strict=True):
        writer.writerow([*(f"{v:g}" for v in row), scanner, int(label)])
    return buffer.getvalue().encode()


@pytest.mark.slow
def test_a_drafted_spec_trains_through_the_local_stack(stack: LocalStack, tmp_path: Path) -> None:
    data = tmp_path / "digits.csv"
    data.write_bytes(_digits_with_a_categorical())

    drafted = CliRunner().invoke(app, ["spec", "init", "digits", str(data), "--target", "digit"])
    assert drafted.exit_code == 0, drafted.output
    assert "65 features (64 numeric, 1 categorical)" in " ".join(drafted.output.split())
    validated = CliRunner().invoke(app, ["spec", "validate"])
    assert validated.exit_code == 0, validated.output

    stack.sync_models()  # what the housekeeping loop does within 5 s
    trained = CliRunner().invoke(app, ["train", "digits", str(data), "--timeout", "300"])
    assert trained.exit_code == 0, trained.output
    assert "digits: registered as v1" in trained.output
