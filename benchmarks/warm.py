"""Warm latency: the real predict handler vs the same handler on scikit-learn vs the floor.

Variants, per model and batch size (all in one process, on the same request rows):

* ``handler_onnx``: `predict.handler.handler(event, context)`, the deployed entry point with
  its Logger decorator, the exact-path dispatch to the predict route, body parse, feature
  checks, onnxruntime, the EMF metrics line and the capture line. The headline number.
* ``handler_sklearn``: the same handler and service, with the runtime's model swapped for an
  adapter that calls the fitted scikit-learn pipeline's `predict_proba` (labels by argmax, as
  `predict` does): everything but the model call is identical.
* ``handler_v2``: the same handler and service on the Open Inference Protocol's infer route
  (`/v2/models/{model}/infer`, mlops.serving.oip) with the same rows as one FP64 tensor per
  feature (the same numbers, the same text as the native body): same checks, model call,
  metrics and capture lines. Its answers must equal `session.run`'s exactly (checked first).
* ``session_run``: `session.run` on prebuilt tensors, the floor no handler can beat.
* ``sklearn_predict_proba``: `pipeline.predict_proba` on a prebuilt array, for the
  scikit-learn handler what `session_run` is for ours.

The variants are interleaved: each round runs one batch of every variant, the order rotating
from round to round, so drift on a shared machine (another process waking up, frequency
changes) lands on all variants alike. Each variant gets about the same wall time, hence
more iterations for the fast ones.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks.sklearn_model import SklearnModel
from benchmarks.stack import LABELS, MODELS, BenchStack, feature_names, lambda_context
from mlops.training.onnx_export import PROBABILITY_TOLERANCE

EVENT_TEMPLATE = Path(__file__).resolve().parents[1] / "events" / "apigw_predict.json"
VARIANTS = (
    "handler_onnx",
    "handler_v2",
    "handler_sklearn",
    "session_run",
    "sklearn_predict_proba",
)
ROW_COUNTS = (1, 1000)
ROUNDS = 24
#: Wall time each variant gets per (model, rows) cell, and the bounds on its iterations.
SECONDS_PER_VARIANT = 2.4
MIN_CALLS, MAX_CALLS = 120, 6000


def api_event(model: str, instances: list[dict[str, float]]) -> dict[str, Any]:
    """The sample API Gateway event of events/, for `model` with `instances` as its body."""
    event: dict[str, Any] = json.loads(EVENT_TEMPLATE.read_text())
    path = f"/models/{model}/predict"
    event["resource"] = event["path"] = path
    event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = "/prod" + path
    event["body"] = json.dumps({"instances": instances})
    return event


def v2_event(model: str, features: np.ndarray, rows: int) -> dict[str, Any]:
    """The same event on the Open Inference Protocol's infer path: the same rows as one FP64
    tensor per feature (the numbers written as the native body writes them)."""
    event = api_event(model, [])
    path = f"/v2/models/{model}/infer"
    event["resource"] = event["path"] = path
    event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = "/prod" + path
    inputs = [
        {
            "name": name,
            "shape": [rows],
            "datatype": "FP64",
            "data": [float(value) for value in features[:rows, column]],
        }
        for column, name in enumerate(feature_names())
    ]
    event["body"] = json.dumps({"inputs": inputs})
    return event


def instances_for(features: np.ndarray, rows: int) -> list[dict[str, float]]:
    names = feature_names()
    return [
        {name: float(value) for name, value in zip(names, row, strict=True)}
        for row in features[:rows]
    ]


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    values = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return {
        "n": len(samples_ns),
        "p50_us": round(float(np.percentile(values, 50)), 1),
        "p99_us": round(float(np.percentile(values, 99)), 1),
        "mean_us": round(float(values.mean()), 1),
        "min_us": round(float(values.min()), 1),
    }


@dataclass
class Cell:
    """One model x batch size: a callable per variant, and a check each one answers."""

    model: str
    rows: int
    calls: dict[str, Callable[[], Any]]


def build_cells(stack: BenchStack) -> tuple[list[Cell], dict[str, Any]]:
    """Build the services the handler would build, plus their scikit-learn twins."""
    from mlops.training.inputs import model_input
    from predict import handler as predict_handler

    cells: list[Cell] = []
    checks: dict[str, Any] = {}
    context = lambda_context()
    for model in MODELS:
        os.environ.update(stack.predict_env(model))
        onnx_service = predict_handler.build_service()
        sklearn_service = predict_handler.build_service()
        runtime_model = onnx_service.runtime.model
        assert runtime_model is not None, onnx_service.runtime.unavailable
        pipeline = stack.pipelines[model]
        cast(Any, sklearn_service.runtime).model = SklearnModel(pipeline, runtime_model.metadata)
        session = runtime_model.session
        outputs = [runtime_model.metadata.label_output, runtime_model.metadata.probabilities_output]
        checks[model] = {
            "sample_rate": onnx_service.sample_rate,
            "load_seconds": round(onnx_service.runtime.load_seconds, 4),
        }
        for rows in ROW_COUNTS:
            event = api_event(model, instances_for(stack.features, rows))
            numeric = stack.features[:rows].astype(np.float32)
            feeds = {"numeric": numeric}
            sk_input = model_input(numeric, np.empty((rows, 0), dtype=object))

            calls: dict[str, Callable[[], Any]] = {
                "handler_onnx": partial(call_handler, onnx_service, event, context),
                "handler_v2": partial(
                    call_handler, onnx_service, v2_event(model, stack.features, rows), context
                ),
                "handler_sklearn": partial(call_handler, sklearn_service, event, context),
                "session_run": partial(session.run, outputs, feeds),
                "sklearn_predict_proba": partial(pipeline.predict_proba, sk_input),
            }
            checks[f"{model}/{rows}"] = _check(calls, rows)
            checks[f"{model}/{rows}/v2"] = _check_v2(
                calls["handler_v2"], session.run(outputs, feeds), rows
            )
            cells.append(Cell(model, rows, calls))
    return cells, checks


def call_handler(service: Any, event: dict[str, Any], context: Any) -> Any:
    """The deployed entry point, serving `service` (what `predict.handler.service()` built)."""
    from predict import handler as predict_handler

    predict_handler._service = service
    return predict_handler.handler(event, context)


def logger_only() -> Callable[[dict[str, Any], Any], Any]:
    """The handler's one decorator (the same Logger object) around a constant answer."""
    from predict import handler as predict_handler

    @predict_handler.logger.inject_lambda_context
    def body(event: dict[str, Any], context: Any) -> dict[str, Any]:
        predict_handler.logger.set_correlation_id(event["requestContext"]["requestId"])
        return {"statusCode": 200, "body": "{}"}

    return body


def tracer_only() -> Callable[[dict[str, Any], Any], Any]:
    """Not on the path: Powertools Tracer's per-request subsegment around a constant answer
    (tracing disabled here, so a dummy subsegment: the cheapest it gets)."""
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="predict-bench")

    @tracer.capture_lambda_handler(capture_response=False)
    def body(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "{}"}

    return body


def powertools_metrics_only(rows: int) -> Callable[[], None]:
    """Not on the path: Powertools Metrics for the predict route's three metrics, with its
    dimensions, added and flushed (printed to /dev/null by the caller's redirect)."""
    from aws_lambda_powertools import Metrics

    metrics = Metrics(namespace="ServerlessMlops", service="predict")

    def record() -> None:
        metrics.add_dimension(name="model", value="bench-rf")
        metrics.add_dimension(name="model_version", value="1")
        metrics.add_metric(name="requests", unit="Count", value=1)
        metrics.add_metric(name="rows", unit="Count", value=rows)
        metrics.add_metric(name="model_latency", unit="Milliseconds", value=0.05)
        metrics.flush_metrics()

    return record


def handle_without_flush(service: Any, event: dict[str, Any], context: Any) -> Any:
    """`PredictionService.handle` alone; the metrics it adds are dropped, not flushed."""
    try:
        return service.handle(event, context)
    finally:
        service.metrics.clear_metrics()


class BenchmarkParityError(RuntimeError):
    """The ONNX handler and the scikit-learn handler disagree: timing them would compare two
    different models, so the benchmark stops instead."""


def _check(calls: dict[str, Callable[[], Any]], rows: int) -> dict[str, Any]:
    """Both handlers answer 200 with probabilities within the training parity tolerance
    (1e-4) and the same labels, except where the top two probabilities tie within it (the rule
    of `mlops.training.onnx_export.check_parity`); BenchmarkParityError otherwise."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        answers = {name: calls[name]() for name in ("handler_onnx", "handler_sklearn")}
    bodies = {}
    for name, answer in answers.items():
        if answer["statusCode"] != 200:
            raise RuntimeError(f"{name} answered {answer['statusCode']}: {answer['body']}")
        bodies[name] = json.loads(answer["body"])
    onnx, sk = bodies["handler_onnx"], bodies["handler_sklearn"]
    assert len(onnx["predictions"]) == rows
    onnx_probabilities = np.asarray(onnx["probabilities"], dtype=np.float64)
    sk_probabilities = np.asarray(sk["probabilities"], dtype=np.float64)
    gap = float(np.max(np.abs(onnx_probabilities - sk_probabilities)))
    same_label = np.asarray(onnx["predictions"]) == np.asarray(sk["predictions"])
    agree = float(np.mean(same_label))
    top_two = np.sort(sk_probabilities, axis=1)[:, -2:]
    near_tie = top_two[:, 1] - top_two[:, 0] <= PROBABILITY_TOLERANCE
    if gap > PROBABILITY_TOLERANCE or np.any(~same_label & ~near_tie):
        raise BenchmarkParityError(
            f"{rows} row(s): the ONNX handler's probabilities differ from scikit-learn's by up "
            f"to {gap:.2e} (tolerance {PROBABILITY_TOLERANCE:.0e}) and its labels agree on "
            f"{agree:.2%} of rows; not timing two different models"
        )
    return {
        "max_probability_gap": gap,
        "label_agreement": agree,
        "response_bytes": len(answers["handler_onnx"]["body"]),
    }


def _check_v2(call: Callable[[], Any], floor: list[Any], rows: int) -> dict[str, Any]:
    """The v2 route answers 200 with exactly `session.run`'s labels and probabilities (the
    same float32 numbers: parsed back and narrowed, they must be bit-equal);
    BenchmarkParityError otherwise (timing it would compare different work)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        answer = call()
    if answer["statusCode"] != 200:
        raise RuntimeError(f"handler_v2 answered {answer['statusCode']}: {answer['body'][:300]}")
    outputs = {output["name"]: output for output in json.loads(answer["body"])["outputs"]}
    labels, probabilities = np.asarray(floor[0]), np.asarray(floor[1], dtype=np.float32)
    got = np.asarray(outputs["probabilities"]["data"], dtype=np.float32)
    same_labels = outputs["predictions"]["data"] == labels.tolist()
    same_probabilities = outputs["probabilities"]["shape"] == list(probabilities.shape) and (
        np.array_equal(got, probabilities.reshape(-1))
    )
    if not (same_labels and same_probabilities and outputs["predictions"]["shape"] == [rows]):
        raise BenchmarkParityError(
            f"{rows} row(s): the v2 route's outputs are not session.run's (labels equal: "
            f"{same_labels}, probabilities equal: {same_probabilities}); not timing it"
        )
    return {"equal_to_session_run": True, "response_bytes": len(answer["body"])}


def _estimate_ns(call: Callable[[], Any], seconds: float = 0.15) -> float:
    """Warm the variant up and estimate its cost per call."""
    count, started = 0, time.perf_counter_ns()
    while time.perf_counter_ns() - started < seconds * 1e9 or count < 3:
        call()
        count += 1
    return (time.perf_counter_ns() - started) / count


def measure_cell(cell: Cell, seconds: float | None = None) -> dict[str, dict[str, float]]:
    """Interleaved rounds of batches; every call timed on its own (p50/p99 need the spread)."""
    names = list(cell.calls)
    samples: dict[str, list[int]] = {name: [] for name in names}
    budget = SECONDS_PER_VARIANT if seconds is None else seconds
    clock = time.perf_counter_ns
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        batch = {}
        for name in names:
            per_call = _estimate_ns(cell.calls[name])
            total = int(min(MAX_CALLS, max(MIN_CALLS, budget * 1e9 / per_call)))
            batch[name] = max(1, total // ROUNDS)
        gc.collect()
        for round_index in range(ROUNDS):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                call, out = cell.calls[name], samples[name]
                for _ in range(batch[name]):
                    started = clock()
                    call()
                    out.append(clock() - started)
    return {name: percentiles(values) for name, values in samples.items()}


def summarize(model: str, rows: int, stats: dict[str, dict[str, float]]) -> dict[str, Any]:
    onnx, sk = stats["handler_onnx"], stats["handler_sklearn"]
    floor, v2 = stats["session_run"], stats["handler_v2"]
    return {
        "v2_overhead_over_floor_p50_us": round(v2["p50_us"] - floor["p50_us"], 1),
        "v2_speedup_vs_native_handler_p50": round(onnx["p50_us"] / v2["p50_us"], 2),
        "model": model,
        "label": LABELS[model],
        "rows": rows,
        "variants": stats,
        "speedup_vs_sklearn_handler_p50": round(sk["p50_us"] / onnx["p50_us"], 2),
        "speedup_vs_sklearn_handler_p99": round(sk["p99_us"] / onnx["p99_us"], 2),
        "overhead_over_floor_p50_us": round(onnx["p50_us"] - floor["p50_us"], 1),
        "handler_over_floor_ratio_p50": round(onnx["p50_us"] / floor["p50_us"], 2),
        "sklearn_handler_overhead_over_predict_proba_p50_us": round(
            sk["p50_us"] - stats["sklearn_predict_proba"]["p50_us"], 1
        ),
    }


def run_warm(stack: BenchStack, say: Callable[[str], None] = print) -> dict[str, Any]:
    cells, checks = build_cells(stack)
    results = []
    for cell in cells:
        started = time.perf_counter()
        stats = measure_cell(cell)
        results.append(summarize(cell.model, cell.rows, stats))
        say(
            f"  {cell.model} x{cell.rows}: handler p50 {stats['handler_onnx']['p50_us']} us, "
            f"v2 p50 {stats['handler_v2']['p50_us']} us, "
            f"sklearn handler p50 {stats['handler_sklearn']['p50_us']} us, floor p50 "
            f"{stats['session_run']['p50_us']} us ({time.perf_counter() - started:.1f} s)"
        )
    return {
        "cells": results,
        "checks": checks,
        "method": {
            "rounds": ROUNDS,
            "seconds_per_variant": SECONDS_PER_VARIANT,
            "min_calls": MIN_CALLS,
            "max_calls": MAX_CALLS,
            "variants": list(VARIANTS),
            "gc": "enabled (as on Lambda)",
        },
    }


BREAKDOWN_MODEL = "bench-rf"
#: Stages of the handler, each timed on its own (interleaved with the whole handler), then
#: what the handler does not do, for the record of why.
STAGES = {
    "handler_onnx": "whole handler",
    "logger_decorator": "Logger.inject_lambda_context + correlation id around a constant answer "
    "(the handler's one decorator)",
    "service_handle": "PredictionService.handle, no decorator",
    "parse": "body parse and shape checks (orjson)",
    "to_tensors": "feature checks: FeatureSchema.to_tensors",
    "onnx_predict": "OnnxModel.predict (session.run + feeds and outputs)",
    "emf_line": "the predict route's EMF line (mlops.serving.emf), built and written",
    "capture_line": "the capture line (ids, version, outputs; inputs at the sample rate)",
    "avoided_powertools_metrics": "not on the path: Powertools Metrics for the same three "
    "metrics and dimensions (add_metric x3 + flush)",
    "avoided_tracer": "not on the path: Powertools Tracer's per-request subsegment (dummy: "
    "tracing disabled)",
    "avoided_resolver": "not on the path: Powertools REST resolver + validation of the same "
    "body, constant answer (predict is dispatched on its exact path)",
}


def build_breakdown(stack: BenchStack) -> list[Cell]:
    """Where the handler's time goes: its stages measured one by one, on the same rows."""
    from benchmarks.minimal_api import minimal_app
    from mlops.serving.capture import capture_record
    from predict import handler as predict_handler

    os.environ.update(stack.predict_env(BREAKDOWN_MODEL))
    service = predict_handler.build_service()
    model, _, schema = service.runtime.require_model()
    app = minimal_app()
    context = lambda_context()
    decorated = logger_only()
    traced = tracer_only()
    cells = []
    for rows in ROW_COUNTS:
        event = api_event(BREAKDOWN_MODEL, instances_for(stack.features, rows))
        instances = json.loads(event["body"])["instances"]
        numeric, categorical = schema.to_tensors(instances)
        outputs = model.predict(numeric, categorical).outputs.tolist()

        def capture(outputs: list[Any] = outputs, instances: list[Any] = instances) -> None:
            payload: dict[str, Any] = {"outputs": outputs}
            if service.sample_rate and random.random() < service.sample_rate:
                payload["inputs"] = instances
            service.capture.write(capture_record("prediction", "m", 1, "r", payload))

        calls: dict[str, Callable[[], Any]] = {
            "handler_onnx": partial(call_handler, service, event, context),
            "logger_decorator": partial(decorated, event, context),
            "service_handle": partial(handle_without_flush, service, event, context),
            "parse": partial(service._instances, event["body"]),
            "to_tensors": partial(schema.to_tensors, instances),
            "onnx_predict": partial(model.predict, numeric, categorical),
            "emf_line": partial(service.prediction_metrics.record, rows, 0.05),
            "capture_line": capture,
            "avoided_powertools_metrics": powertools_metrics_only(rows),
            "avoided_tracer": partial(traced, event, context),
            "avoided_resolver": partial(app.resolve, event, context),
        }
        answer = app.resolve(event, context)
        assert answer["statusCode"] == 200, answer
        cells.append(Cell(BREAKDOWN_MODEL, rows, calls))
    return cells


#: The stages `PredictionService.handle` runs on the predict path; the rest is its glue.
ON_THE_PATH = ("parse", "to_tensors", "onnx_predict", "emf_line", "capture_line")


def run_breakdown(stack: BenchStack, say: Callable[[str], None] = print) -> dict[str, Any]:
    results: dict[str, Any] = {"model": BREAKDOWN_MODEL, "stages": STAGES, "rows": {}}
    for cell in build_breakdown(stack):
        stats = measure_cell(cell, seconds=SECONDS_PER_VARIANT / 2)
        whole = stats["handler_onnx"]["p50_us"]
        handle = stats["service_handle"]["p50_us"]
        accounted = sum(stats[name]["p50_us"] for name in ON_THE_PATH)
        results["rows"][str(cell.rows)] = {
            "variants": stats,
            "decorators_by_difference_p50_us": round(whole - handle, 1),
            "rest_by_difference_p50_us": round(handle - accounted, 1),
        }
        say(
            f"  breakdown x{cell.rows}: handler p50 {whole} us, handle {handle} us, to_tensors "
            f"{stats['to_tensors']['p50_us']} us, predict {stats['onnx_predict']['p50_us']} us"
        )
    return results


def profile_handler(
    stack: BenchStack, model: str = "bench-rf", rows: int = 1, calls: int = 3000, top: int = 25
) -> str:
    """cProfile of the warm ONNX handler: where the microseconds go (cumulative order)."""
    import cProfile
    import io
    import pstats

    from predict import handler as predict_handler

    os.environ.update(stack.predict_env(model))
    predict_handler._service = predict_handler.build_service()
    event = api_event(model, instances_for(stack.features, rows))
    context = lambda_context()
    profiler = cProfile.Profile()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for _ in range(200):
            predict_handler.handler(event, context)
        profiler.enable()
        for _ in range(calls):
            predict_handler.handler(event, context)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()
