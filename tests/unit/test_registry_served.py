"""The predict function's pydantic-free view of a version reads what training writes."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from mlops.registry import ArtifactRef, ModelVersion
from mlops.registry.attributes import from_attribute
from mlops.registry.records import VersionStatus
from mlops.registry.served import VERSION_STATUSES, MalformedVersionError, ServedVersion
from mlops.registry.store import _to_item


def _record() -> ModelVersion:
    return ModelVersion(
        model="iris",
        version=3,
        status="production",
        run_id="r" * 32,
        created_at="2026-11-23T10:00:00.000+00:00",
        updated_at="2026-11-23T10:05:00.000+00:00",
        metrics={"f1_macro": 0.95, "accuracy": 1.0},
        artifacts={
            "model.onnx": ArtifactRef(
                key="models/iris/v3/model.onnx", sha256="ab" * 32, size=2048, version_id="v-1"
            ),
            "baseline.json": ArtifactRef(
                key="models/iris/v3/baseline.json", sha256="c" * 64, size=9
            ),
        },
        lineage={"data_key": "training/iris/a.csv", "data_rows": 150},
        feature_schema=[{"name": "sepal length (cm)", "type": "numeric", "min": 4.3, "max": 7.9}],
        classes=["setosa", "versicolor", "virginica"],
    )


def _document(record: ModelVersion) -> dict[str, Any]:
    """The version's item as DynamoDB returns it, decoded (what ServedVersionReader sees)."""
    item = _to_item({"pk": "MODEL#iris", "sk": "VERSION#00000003", **record.model_dump()})
    return {key: from_attribute(value) for key, value in item.items()}


def test_served_version_carries_what_the_record_says() -> None:
    record = _record()
    served = ServedVersion.from_document(_document(record))
    assert (served.model, served.version, served.status) == ("iris", 3, "production")
    assert served.created_at == record.created_at
    assert served.metrics == record.metrics and served.lineage == record.lineage
    # The registry stores 1.0 as the number 1; both views read it back as a float.
    assert all(type(value) is float for value in served.metrics.values())
    assert [type(v) for v in served.metrics.values()] == [type(v) for v in record.metrics.values()]
    assert served.feature_schema == record.feature_schema and served.classes == record.classes
    artifact = record.model_artifact
    assert (served.model_artifact.key, served.model_artifact.sha256) == (
        artifact.key,
        artifact.sha256,
    )
    assert (served.model_artifact.size, served.model_artifact.version_id) == (2048, "v-1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("artifacts"), "no 'artifacts'"),
        (lambda d: d["artifacts"].pop("model.onnx"), "no model.onnx artifact"),
        (lambda d: d["artifacts"]["model.onnx"].pop("sha256"), "no 'sha256'"),
        (lambda d: d.update(version="3"), "'version' must be an integer"),
        (lambda d: d.update(version=True), "'version' must be an integer"),
        (lambda d: d.update(feature_schema={}), "'feature_schema' must be a list"),
        (lambda d: d.update(feature_schema=["x"]), "feature_schema entry must be an object"),
        (lambda d: d.update(feature_schema=[{"min": 1}]), "feature_schema entry must be an object"),
        (lambda d: d.update(status="live"), "'status' must be one of"),
        (lambda d: d.update(metrics={"f1": "high"}), "metric 'f1' must be a number or null"),
        (lambda d: d["artifacts"]["model.onnx"].update(version_id=7), "'version_id' must be a str"),
    ],
)
def test_malformed_items_are_refused_with_the_field_named(change: Any, message: str) -> None:
    document = _document(_record())
    change(document)
    with pytest.raises(MalformedVersionError, match=message):
        ServedVersion.from_document(document)


def test_statuses_match_the_records() -> None:
    assert get_args(VersionStatus) == VERSION_STATUSES
