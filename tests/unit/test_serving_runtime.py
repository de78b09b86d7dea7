"""What one environment serves, decided once at load: the pinned version, or why there is none.

Fakes stand in for the registry and the bucket so every way a load can end is tried in
milliseconds; `tests/integration/test_predict_api.py` goes through the real handler and S3.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops.examples import iris_csv
from mlops.inference.exceptions import ArtifactIntegrityError, ModelLoadError
from mlops.registry.artifacts import ArtifactStore
from mlops.registry.exceptions import VersionNotFoundError
from mlops.registry.served import MalformedVersionError, ServedArtifact, ServedVersion
from mlops.serving.errors import ModelUnavailableError, NoProductionModelError
from mlops.serving.runtime import load_runtime
from mlops.settings import PredictSettings

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def iris_onnx() -> bytes:
    from mlops.dataset import read_training_csv
    from mlops.spec import load_spec
    from mlops.training.trainer import fit_candidate

    spec = load_spec("iris")
    return fit_candidate(spec, read_training_csv(iris_csv(), spec)).onnx_bytes


def _version(artifact: bytes, version: int = 3) -> ServedVersion:
    return ServedVersion(
        model="iris",
        version=version,
        status="production",
        created_at="2026-11-30T00:00:00.000+00:00",
        model_artifact=ServedArtifact(
            key=f"models/iris/v{version}/model.onnx",
            sha256=hashlib.sha256(artifact).hexdigest(),
            size=len(artifact),
            version_id="object-version-1",
        ),
        feature_schema=[
            {"name": name, "type": "numeric", "min": 0, "max": 20} for name in FEATURES
        ],
        classes=["setosa", "versicolor", "virginica"],
    )


@dataclass
class _Registry:
    version: ServedVersion | None = None
    error: Exception | None = None
    asked: list[tuple[str, int]] = field(default_factory=list)

    def get(self, model: str, version: int) -> ServedVersion:
        self.asked.append((model, version))
        if self.error is not None:
            raise self.error
        assert self.version is not None
        return self.version


class _Artifacts:
    def __init__(self, body: bytes | None = None, error: Exception | None = None) -> None:
        self.body, self.error = body, error
        self.asked: list[ServedArtifact] = []

    def get_verified(self, ref: ServedArtifact) -> bytes:
        self.asked.append(ref)
        if self.error is not None:
            raise self.error
        assert self.body is not None
        return self.body


def _settings(version: int) -> PredictSettings:
    return PredictSettings(
        model_name="iris", model_bucket="bucket", registry_table="table", model_version=version
    )


def _load(version: int, registry: _Registry, artifacts: _Artifacts) -> Any:
    return load_runtime(_settings(version), registry, artifacts)  # type: ignore[arg-type]


def test_the_pinned_version_is_loaded_and_served(iris_onnx: bytes) -> None:
    served = _version(iris_onnx)
    registry, artifacts = _Registry(served), _Artifacts(iris_onnx)
    settings = _settings(3)

    started = time.perf_counter()
    runtime = load_runtime(settings, registry, artifacts)  # type: ignore[arg-type]
    took = time.perf_counter() - started

    assert runtime.settings is settings

    assert registry.asked == [("iris", 3)]
    assert artifacts.asked == [served.model_artifact]
    assert (runtime.unavailable, runtime.load_problem) == (None, None)
    model, version, schema = runtime.require_model()
    assert version is served
    assert model.metadata.numeric_features == FEATURES
    assert schema.names == frozenset(FEATURES)
    assert 0 < runtime.load_seconds <= took


def test_no_pinned_version_answers_no_production_model() -> None:
    registry, artifacts = _Registry(), _Artifacts()

    runtime = _load(0, registry, artifacts)

    assert (registry.asked, artifacts.asked) == ([], [])
    assert type(runtime.unavailable) is NoProductionModelError
    assert runtime.unavailable.message == (
        "model 'iris' has no production version yet; train one and promote it"
    )
    assert (runtime.model, runtime.version, runtime.load_problem) == (None, None, None)
    with pytest.raises(NoProductionModelError):
        runtime.require_model()


def test_an_artifact_failing_its_sha256_is_refused(
    iris_onnx: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _Registry(_version(iris_onnx))
    artifacts = _Artifacts(error=ArtifactIntegrityError("s3://bucket/key has sha256 00"))

    with caplog.at_level(logging.ERROR, logger="mlops.serving.runtime"):
        runtime = _load(3, registry, artifacts)

    assert runtime.load_problem == "artifact_integrity"
    assert type(runtime.unavailable) is ModelUnavailableError
    assert runtime.unavailable.message == "model 'iris' v3 failed its integrity check"
    assert runtime.unavailable.details == {"reason": "artifact_sha256_mismatch"}
    assert (runtime.model, runtime.version, runtime.schema) == (None, None, None)
    assert [r.getMessage() for r in caplog.records] == [
        "refusing to serve iris v3: s3://bucket/key has sha256 00"
    ]
    with pytest.raises(ModelUnavailableError):
        runtime.require_model()


@pytest.mark.parametrize(
    ("registry_error", "body", "artifact_error", "reason"),
    [
        (VersionNotFoundError("iris has no version 3"), None, None, "VersionNotFoundError"),
        (MalformedVersionError("no 'status'"), None, None, "MalformedVersionError"),
        (None, b"not onnx", None, "ModelLoadError"),
        (None, None, ModelLoadError("gone"), "ModelLoadError"),
        # Outages are logged with their traceback (logger.exception), not in the message.
        (None, None, ConnectionError("S3 is unreachable"), "ConnectionError"),
        (ConnectionError("DynamoDB is unreachable"), None, None, "ConnectionError"),
    ],
    ids=["not_found", "malformed", "not_onnx", "load_error", "s3_outage", "dynamodb_outage"],
)
def test_a_version_that_cannot_load_answers_503_with_the_reason(
    iris_onnx: bytes,
    caplog: pytest.LogCaptureFixture,
    registry_error: Exception | None,
    body: bytes | None,
    artifact_error: Exception | None,
    reason: str,
) -> None:
    registry = _Registry(_version(iris_onnx), error=registry_error)
    artifacts = _Artifacts(body, artifact_error)

    with caplog.at_level(logging.ERROR, logger="mlops.serving.runtime"):
        runtime = _load(3, registry, artifacts)

    assert runtime.load_problem == "load_failed"
    assert type(runtime.unavailable) is ModelUnavailableError
    assert runtime.unavailable.message == "model 'iris' v3 could not be loaded"
    assert runtime.unavailable.details == {"reason": reason}
    assert (runtime.model, runtime.version, runtime.schema) == (None, None, None)
    assert runtime.load_seconds == 0.0
    cause = registry_error or artifact_error
    expected = (
        "cannot load iris v3"
        if isinstance(cause, ConnectionError)
        else f"cannot load iris v3: {cause or 'artifact is not a loadable ONNX model'}"
    )
    [record] = caplog.records
    assert record.getMessage().startswith(expected)
    assert (record.exc_info is not None) == isinstance(cause, ConnectionError)


# -- the sha256 check itself ------------------------------------------------------------------
class _S3:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.asked: list[dict[str, Any]] = []

    def get_object(self, **arguments: Any) -> dict[str, Any]:
        self.asked.append(arguments)
        return {"Body": _Body(self.body)}


@dataclass
class _Body:
    data: bytes

    def read(self) -> bytes:
        return self.data


def test_get_verified_returns_the_pinned_object_version_when_its_hash_matches() -> None:
    body = b"model bytes"
    s3 = _S3(body)
    ref = ServedArtifact("models/iris/v3/model.onnx", hashlib.sha256(body).hexdigest(), 11, "v-7")

    assert ArtifactStore(s3, "bucket").get_verified(ref) == body
    assert s3.asked == [
        {"Bucket": "bucket", "Key": "models/iris/v3/model.onnx", "VersionId": "v-7"}
    ]


def test_get_verified_without_a_version_id_reads_the_key() -> None:
    body = b"model bytes"
    s3 = _S3(body)
    ref = ServedArtifact("models/iris/v3/model.onnx", hashlib.sha256(body).hexdigest(), 11)

    assert ArtifactStore(s3, "bucket").get_verified(ref) == body
    assert s3.asked == [{"Bucket": "bucket", "Key": "models/iris/v3/model.onnx"}]


def test_get_verified_refuses_bytes_that_do_not_hash_to_the_record() -> None:
    recorded = hashlib.sha256(b"the registered model").hexdigest()
    actual = hashlib.sha256(b"another model").hexdigest()
    ref = ServedArtifact("models/iris/v3/model.onnx", recorded, 20, "v-7")

    with pytest.raises(ArtifactIntegrityError) as refused:
        ArtifactStore(_S3(b"another model"), "bucket").get_verified(ref)

    assert str(refused.value) == (
        f"s3://bucket/models/iris/v3/model.onnx has sha256 {actual}, the registry recorded "
        f"{recorded}: refusing to load it"
    )
