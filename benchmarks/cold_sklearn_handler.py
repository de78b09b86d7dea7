"""Cold-start child: our handler, serving the same model as a scikit-learn/joblib pickle.

The like-for-like twin of cold_ours.py, as the warm benchmark's "handler (sklearn)" is of the
ONNX handler: the same handler module (Powertools, botocore clients, registry, the same
`PredictionService`), the same registry read (DynamoDB) and the same sha256-checked fetch from
S3, but the artifact is the fitted pipeline pickled with joblib and the model is scikit-learn.
Only the model format and its runtime differ (joblib + scikit-learn instead of onnxruntime).
Run as `python cold_sklearn_handler.py <event.json> <result.json> <artifact.json>`, where
artifact.json holds the pickle's ArtifactRef (key, sha256, size, version id) and the ONNX
model's metadata (for the class names the answer carries).
"""

import time

STARTED = time.perf_counter()


def main() -> None:
    import io
    import json
    import sys

    import joblib

    from benchmarks.cold_child import answer_first_request, write_timings
    from predict import handler as predict_handler

    imported = time.perf_counter()
    from benchmarks.sklearn_model import SklearnModel
    from mlops.clients import client
    from mlops.inference import ModelMetadata
    from mlops.registry.artifacts import ArtifactStore
    from mlops.registry.served import ServedArtifact, ServedVersionReader
    from mlops.serving import PredictionService
    from mlops.serving.features import FeatureSchema
    from mlops.serving.runtime import ServingRuntime
    from mlops.settings import PredictSettings

    with open(sys.argv[3]) as source:
        described = json.load(source)
    settings = PredictSettings.from_environment()
    registry = ServedVersionReader(client("dynamodb"), settings.registry_table)
    version = registry.get(settings.model_name, settings.model_version)
    artifacts = ArtifactStore(client("s3"), settings.model_bucket)
    pickled = artifacts.get_verified(ServedArtifact(**described["artifact"]))
    metadata = ModelMetadata.from_dict(described["metadata"])
    runtime = ServingRuntime(
        settings=settings,
        model=SklearnModel(joblib.load(io.BytesIO(pickled)), metadata),  # type: ignore[arg-type]
        version=version,
        schema=FeatureSchema.from_records(
            version.feature_schema, metadata.numeric_features, metadata.categorical_features
        ),
    )
    predict_handler._service = PredictionService(runtime, metrics=predict_handler.metrics)
    loaded = time.perf_counter()
    answered = answer_first_request(predict_handler.handler, sys.argv[1])
    if "onnxruntime" in sys.modules:
        raise SystemExit("the scikit-learn twin imported onnxruntime")
    write_timings(sys.argv[2], STARTED, imported, loaded, answered)


if __name__ == "__main__":
    main()
