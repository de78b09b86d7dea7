"""The system under test, set up the way the project really runs it.

A moto server on loopback stands in for AWS (one server, so the cold-start subprocesses can
read the same registry and artifacts the warm benchmark uses; in-process moto cannot be
shared across processes). Models are registered through the real train handler (S3 upload ->
SQS notification -> `train.handler.handler`) and promoted through the registry, so the
predict handler loads exactly what production would: a sha256-checked ONNX artifact named by
the registry.

The data is synthetic (`make_classification`, 20 numeric features, 3 classes): iris has 4
features, too few to show what per-feature validation and a deeper forest cost.
"""

from __future__ import annotations

import io
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aws_lambda_powertools.utilities.typing import LambdaContext

REGION = "us-east-1"
FEATURE_COUNT = 20
CLASS_COUNT = 3
DATA_ROWS = 3000
TARGET = "label"
# The specs' default (and iris's) share of requests whose full inputs are captured: kept as in
# production, so the handler pays for capture as it would on AWS (both handler variants do).
CAPTURE_SAMPLE_RATE = 0.1

#: Benchmark model -> (estimator key, params). Scikit-learn defaults apart from the seed, so the
#: forest is a realistic unbounded-depth RandomForest(100 trees).
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "bench-rf": ("random_forest_classifier", {"n_estimators": 100, "random_state": 0}),
    "bench-gb": ("gradient_boosting_classifier", {"n_estimators": 100, "random_state": 0}),
    "bench-lr": ("logistic_regression", {"max_iter": 1000}),
}
LABELS = {
    "bench-rf": "RandomForest (100 trees)",
    "bench-gb": "GradientBoosting (100 x 3 trees)",
    "bench-lr": "LogisticRegression",
}


def lambda_context() -> LambdaContext:
    from mlops.local.context import LocalContext

    return LocalContext("mlops-predict-bench", "bench-request").as_lambda_context()


def feature_names() -> list[str]:
    return [f"f{index:02d}" for index in range(FEATURE_COUNT)]


def spec_dict(model: str) -> dict[str, Any]:
    """The spec of one benchmark model, in the shape of models/*.toml."""
    estimator, params = MODELS[model]
    return {
        "name": model,
        "task": "classification",
        "target": TARGET,
        "description": f"Benchmark model: {LABELS[model]} on synthetic data.",
        "features": [
            {"name": name, "type": "numeric", "min": -1000.0, "max": 1000.0}
            for name in feature_names()
        ],
        "estimator": {"name": estimator, "params": params},
        "split": {"test_fraction": 0.25, "seed": 42},
        "data": {"min_rows": 60, "max_missing_fraction": 0.05},
        "quality_gate": {"metric": "f1_macro", "threshold": 0.5, "max_regression": 0.02},
        "drift": {"capture_sample_rate": CAPTURE_SAMPLE_RATE},
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def spec_toml(spec: dict[str, Any]) -> str:
    """Serialise `spec_dict` output as TOML (no TOML writer is a project dependency)."""
    lines = [
        f"{key} = {_toml_value(spec[key])}" for key in ("name", "task", "target", "description")
    ]
    for feature in spec["features"]:
        lines += ["", "[[features]]"] + [f"{k} = {_toml_value(v)}" for k, v in feature.items()]
    lines += [
        "",
        "[estimator]",
        f"name = {_toml_value(spec['estimator']['name'])}",
        f"params = {_toml_value(spec['estimator']['params'])}",
    ]
    for table in ("split", "data", "quality_gate", "drift"):
        lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in spec[table].items()]
    return "\n".join(lines) + "\n"


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 3-class data; values rounded to 4 decimals as a CSV would carry them."""
    from sklearn.datasets import make_classification

    features, target = make_classification(
        n_samples=DATA_ROWS,
        n_features=FEATURE_COUNT,
        n_informative=10,
        n_redundant=4,
        n_classes=CLASS_COUNT,
        class_sep=1.0,
        random_state=7,
    )
    return np.round(features, 4), target.astype(np.int64)


def to_csv(features: np.ndarray, target: np.ndarray) -> bytes:
    buffer = io.StringIO()
    buffer.write(",".join([*feature_names(), TARGET]) + "\n")
    for row, label in zip(features, target, strict=True):
        buffer.write(",".join(f"{value:.4f}" for value in row) + f",{int(label)}\n")
    return buffer.getvalue().encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BenchStack:
    """The running moto server, the registered models and what the benchmarks need of them."""

    endpoint_url: str
    specs_dir: Path
    workdir: Path
    names: Any
    server: Any
    features: np.ndarray
    target: np.ndarray
    environment: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, Any] = field(default_factory=dict)
    onnx_sizes: dict[str, int] = field(default_factory=dict)
    train_seconds: dict[str, float] = field(default_factory=dict)

    def predict_env(self, model: str) -> dict[str, str]:
        """The predict function's environment for `model`, pinned to version 1."""
        from mlops.local.provision import predict_environment

        env = predict_environment(self.names, model)
        env["MODEL_VERSION"] = "1"
        return env

    def stop(self) -> None:
        self.server.stop()


def base_environment(endpoint_url: str, specs_dir: Path) -> dict[str, str]:
    """What every process of the benchmark (this one and the cold-start children) runs with.

    Tracing is disabled (there is no X-Ray daemon here; on AWS the function has active
    tracing, whose cost is not measured) and Powertools logs only warnings, as configured.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
        "POWERTOOLS_SERVICE_NAME": "predict",
        "MLOPS_SPECS_DIR": str(specs_dir),
    }


def start_stack(say: Any = print) -> BenchStack:
    """Start moto, provision, register and promote every benchmark model."""
    import logging

    from moto.server import ThreadedMotoServer

    from mlops.clients import client, reset_clients
    from mlops.local.provision import local_names, provision
    from mlops.spec.loader import _load_cached

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    specs_dir = workdir / "models"
    specs_dir.mkdir()
    for model in MODELS:
        (specs_dir / f"{model}.toml").write_text(spec_toml(spec_dict(model)))
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    environment = base_environment(endpoint, specs_dir)
    os.environ.update(environment)
    os.environ.pop("AWS_PROFILE", None)
    reset_clients()
    _load_cached.cache_clear()

    names = local_names("bench")
    resources = provision({s: client(s) for s in ("s3", "sqs", "sns", "dynamodb")}, names)
    environment.update(resources.train_environment())
    os.environ.update(environment)
    features, target = make_data()
    stack = BenchStack(
        endpoint_url=endpoint,
        specs_dir=specs_dir,
        workdir=workdir,
        names=names,
        server=server,
        features=features,
        target=target,
        environment=environment,
    )
    _train_through_handler(stack, resources, say)
    return stack


def _train_through_handler(stack: BenchStack, resources: Any, say: Any) -> None:
    """Upload one CSV per model, deliver the S3 notifications to the real train handler,
    promote version 1, and fit the identical scikit-learn pipeline for the comparison."""
    import time

    from mlops.clients import client
    from mlops.local.sqs_bridge import lambda_event_from_messages
    from mlops.registry import RegistryStore
    from train import handler as train_handler

    train_handler.dependencies.cache_clear()
    sqs, s3 = client("sqs"), client("s3")
    queue = resources.training_queue_url
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    csv = to_csv(stack.features, stack.target)
    registry = RegistryStore(client("dynamodb"), stack.names.registry_table)
    for model in MODELS:
        _drain(sqs, queue)  # S3's test event, or nothing
        s3.put_object(Bucket=stack.names.data_bucket, Key=f"training/{model}/bench.csv", Body=csv)
        messages = _drain(sqs, queue)
        started = time.perf_counter()
        result = train_handler.handler(
            lambda_event_from_messages(messages, arn, REGION), lambda_context()
        )
        stack.train_seconds[model] = round(time.perf_counter() - started, 2)
        version = registry.get_version(model, 1)
        if result.get("batchItemFailures") or version.status != "registered":
            raise RuntimeError(f"training {model} failed: {result}, status {version.status}")
        registry.set_production(model, 1, expected=None)
        stack.onnx_sizes[model] = version.model_artifact.size
        stack.pipelines[model] = fit_sklearn_pipeline(model, stack.features, stack.target)
        say(
            f"  trained and promoted {model} v1 in {stack.train_seconds[model]} s "
            f"(onnx {version.model_artifact.size / 1024:.0f} KiB)"
        )


def _drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def fit_sklearn_pipeline(model: str, features: np.ndarray, target: np.ndarray) -> Any:
    """The same pipeline the trainer fits (same spec, split and seed), kept in scikit-learn.

    The trainer does not return its fitted pipeline (only the ONNX conversion survives), so it
    is fitted again here exactly as `fit_candidate` does; the caller checks that it agrees with
    the registered ONNX model.
    """
    from sklearn.model_selection import train_test_split

    from mlops.spec import ModelSpec
    from mlops.training.pipeline import build_pipeline, model_input

    spec = ModelSpec.model_validate(spec_dict(model))
    categorical = np.empty((len(features), 0), dtype=object)
    indices = np.arange(len(features))
    train_index, _ = train_test_split(
        indices, test_size=spec.split.test_fraction, random_state=spec.split.seed, stratify=target
    )
    pipeline = build_pipeline(spec)
    pipeline.fit(model_input(features, categorical)[train_index], target[train_index])
    return pipeline
