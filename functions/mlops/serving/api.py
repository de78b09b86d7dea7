"""The prediction API: request checks, the predict route, the error contract.

One `PredictionService` per execution environment (it holds the loaded runtime). The handler
module builds one from the environment; the local stack builds one per published function
version, as Lambda would (DESIGN §7). Requests for this model's exact predict path, and for its
Open Inference Protocol infer path (mlops.serving.oip), are dispatched straight to the route
code (see `_dispatch_predict`); everything else goes through Powertools' REST resolver
(mlops.serving.routes), built on first use.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mlops.serving.capture import CaptureSink, StdoutCaptureSink, capture_record, should_sample
from mlops.serving.emf import PredictionMetrics
from mlops.serving.errors import (
    MalformedRequestError,
    ModelNotFoundError,
    PayloadTooLargeError,
    SchemaViolationError,
    ServingError,
    UnsupportedMediaTypeError,
)
from mlops.serving.feedback import feedback_violations
from mlops.serving.route_table import is_v2, match_routes
from mlops.serving.runtime import ServingRuntime

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from mlops.serving.oip import TensorDecoder
    from mlops.serving.schemas import FeedbackRequest

API_TITLE = "serverless-mlops prediction API"
logger = logging.getLogger(__name__)
JSON_TYPES = ("application/json",)


def _write_stdout(line: str) -> None:
    sys.stdout.write(line)


def proxy_answer(status: int, body: str) -> dict[str, Any]:
    """An API Gateway proxy answer, built without the resolver."""
    return {
        "statusCode": status,
        "body": body,
        "headers": {"Content-Type": "application/json"},  # a new dict: callers may add headers
        "isBase64Encoded": False,
    }


def error_json(error: ServingError, path: str = "") -> str:
    """The error contract's body; in the Open Inference Protocol's shape on its paths."""
    return json.dumps(error.body_v2() if is_v2(path) else error.body())


def error_answer(error: ServingError, path: str = "") -> dict[str, Any]:
    return proxy_answer(error.status, error_json(error, path))


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value) if value is not None else None
    return None


def allowed_methods(path: str) -> list[str]:
    """The methods a known route takes (empty for an unknown path): 405 vs 404."""
    return sorted({route.method for route in match_routes(path)})


def _normalise_content_type(event: dict[str, Any]) -> None:
    for container in ("headers", "multiValueHeaders"):
        headers = event.get(container) or {}
        for key in [k for k in headers if k.lower() == "content-type"]:
            headers[key] = "application/json" if container == "headers" else ["application/json"]


class PredictionService:
    """The API of one execution environment, serving the model its runtime loaded."""

    def __init__(
        self,
        runtime: ServingRuntime,
        capture: CaptureSink | None = None,
        metrics: Metrics | None = None,
        emit_metrics: Callable[[str], None] = _write_stdout,
    ) -> None:
        """`metrics` records every route but predict and the errors; served predictions
        emit their own EMF lines through `emit_metrics` (mlops.serving.emf)."""
        self.runtime = runtime
        self.settings = runtime.settings
        self.capture = capture or StdoutCaptureSink()
        self.metrics = metrics or Metrics()
        # The pinned version, loaded or not: a canary that fails to load is counted against its
        # own version (the rollout reconciler rolls it back), not against "0".
        version = runtime.version.version if runtime.version else self.settings.model_version
        self._version_label = str(version)
        service = self.metrics.service or "predict"
        # The executing function version's own dimension set: a code canary pins production's
        # model version, and is judged on this set's counts (mlops.rollout.evidence).
        self._function_dimensions = {
            "model": self.settings.model_name,
            "function_version": self.settings.function_version,
            "service": service,
        }
        self.prediction_metrics = PredictionMetrics(
            namespace=self.metrics.namespace or "ServerlessMlops",
            dimensions={
                "model": self.settings.model_name,
                "model_version": str(version),
                "service": service,
            },
            emit=emit_metrics,
            slow_ms=self._slow_ms(),
            more_dimensions=(self._function_dimensions,),
        )
        self.sample_rate = self._sample_rate()
        self._openapi: str | None = None
        self._predict_path = f"/models/{self.settings.model_name}/predict"
        self._infer_path = f"/v2/models/{self.settings.model_name}/infer"
        self._decoder: TensorDecoder | None = None
        self._predictions_datatype = "BYTES"  # set with the decoder, from the loaded model
        self._app: APIGatewayRestResolver | None = None
        if runtime.load_problem:  # flushed with the first request, with the model's dimensions
            self.count_metric(f"model_{runtime.load_problem}")

    @property
    def app(self) -> APIGatewayRestResolver:
        """The REST resolver, built on the first request that needs it."""
        if self._app is None:
            from mlops.serving.routes import build_app

            self._app = build_app(self)
        return self._app

    def _slow_ms(self) -> float | None:
        from mlops.spec.files import canary_latency_limit_ms

        return canary_latency_limit_ms(self.settings.model_name)

    def _sample_rate(self) -> float:
        from mlops.spec.files import capture_sample_rate

        rate = capture_sample_rate(self.settings.model_name)
        if rate is None:
            logger.warning(
                "no readable capture_sample_rate in the spec of %s: inputs are not captured",
                self.settings.model_name,
            )
            return 0.0
        return rate

    # -- request checks that run before any parsing ----------------------------------------
    def precheck(self, event: dict[str, Any], *, to_resolver: bool = True) -> ServingError | None:
        """415 for a non-JSON body and 413 for an oversized one, before the body is parsed.

        `to_resolver=False` is this model's exact predict path (already known to be a POST
        route): it skips the route lookup and the header rewrite only the resolver needs.
        """
        if to_resolver and (
            str(event.get("httpMethod", "")).upper() != "POST"
            or "POST" not in allowed_methods(str(event.get("path", "")))
        ):
            return None
        content_type = _header(event, "content-type")
        if content_type is not None:
            media = content_type.split(";", 1)[0].strip().lower()
            if media not in JSON_TYPES:
                return UnsupportedMediaTypeError(
                    f"send the body as application/json (got '{media[:80]}')"
                )
            if to_resolver:
                _normalise_content_type(event)  # Powertools matches media types by case
        body = event.get("body") or ""
        if not body.strip():
            v2 = is_v2(str(event.get("path")))
            example = '{"inputs": [{...}]}' if v2 else '{"instances": [{...}]}'
            return MalformedRequestError(f"the body is empty; send JSON such as {example}")
        if len(body) > self.settings.max_body_bytes:
            return PayloadTooLargeError(
                f"body is {len(body)} bytes; the limit is {self.settings.max_body_bytes}",
                {"limit_bytes": self.settings.max_body_bytes},
            )
        return None

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one API Gateway event. Whatever the route adds to `self.metrics` is left for
        the caller to flush (the handler's `finally`, the local stack after each request)."""
        path = event.get("path")
        post = event.get("httpMethod") == "POST"
        predict = post and path == self._predict_path
        infer = post and not predict and path == self._infer_path
        early = self.precheck(event, to_resolver=not (predict or infer))
        if early is not None:
            self.count_metric("invalid_requests")
            return error_answer(early, str(path))
        if predict:
            return self._dispatch_predict(event)
        if infer:
            return self._dispatch_predict(event, v2=True)
        return self.app.resolve(event, context)

    def _dimensions(self) -> None:
        self.metrics.add_dimension(name="model", value=self.settings.model_name)
        self.metrics.add_dimension(name="model_version", value=self._version_label)
        # The function version's set, as on the predict line (mlops.serving.emf): replaced, not
        # appended, when another environment's set is pending (the local stack shares one
        # Metrics object between its per-version environments).
        self.metrics.provider.dimension_sets.clear()
        self.metrics.add_dimensions(**self._function_dimensions)

    def count_metric(self, name: str, value: float = 1) -> None:
        """A Powertools metric with this model's dimension sets (set once per flush; compared,
        not assumed: Powertools' metric state is shared by every Metrics object in the
        process)."""
        dimensions = self.metrics.dimension_set
        if (
            dimensions.get("model") != self.settings.model_name
            or dimensions.get("model_version") != self._version_label
            or self.metrics.provider.dimension_sets != [self._function_dimensions]
        ):
            self._dimensions()
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def _dispatch_predict(self, event: dict[str, Any], v2: bool = False) -> dict[str, Any]:
        """This model's predict route (or, `v2`, its infer route), called without the
        resolver's route matching.

        The resolver (which registers the same route, for the OpenAPI document and as the
        path every other request takes) costs 115-215 µs per request on this machine before the
        route runs, more than a single-row budget (benchmarks/results/latest.md); predict parses
        and checks its body itself, so the match is all the resolver would add. Answers and
        errors are the same: the route code and the error contract are shared.
        """
        request_id = str((event.get("requestContext") or {}).get("requestId") or "")
        route = self._infer if v2 else self._predict
        path = self._infer_path if v2 else self._predict_path
        try:
            return proxy_answer(200, route(self.settings.model_name, event.get("body"), request_id))
        except ServingError as error:
            self.count_metric("unavailable_requests" if error.status >= 500 else "invalid_requests")
            return error_answer(error, path)
        except Exception:
            logger.exception("unexpected error")
            self.count_metric("unavailable_requests")
            return error_answer(ServingError("internal error; it has been logged"), path)

    # -- routes --------------------------------------------------------------------------
    def _check_model(self, model: str) -> None:
        if model != self.settings.model_name:
            raise ModelNotFoundError(f"no model named '{model[:100]}'", {"model": model[:100]})

    def _request_id(self) -> str:
        context = self.app.current_event.request_context
        return str(context.request_id or "")

    def openapi_json(self) -> str:
        """The document, generated once per environment, with one exact set of paths per model
        this deployment declares (each has its own routes and function)."""
        if self._openapi is None:
            from mlops.serving.openapi import per_model_document
            from mlops.spec import SpecError, load_all_specs, load_spec

            document = json.loads(
                self.app.get_openapi_json_schema(title=API_TITLE, version="1.0.0")
            )
            try:
                specs = load_all_specs()
            except SpecError:
                specs = {self.settings.model_name: load_spec(self.settings.model_name)}
            document = per_model_document(document, specs, self.settings.max_batch_rows)
            self._openapi = json.dumps(document, indent=2)
        return self._openapi

    @staticmethod
    def _instances(body: str | None) -> list[Any]:
        """The request's `instances`, or the error contract's 400/422."""
        try:
            payload = orjson.loads(body or "")
        except (ValueError, RecursionError) as error:  # orjson.JSONDecodeError is a ValueError
            raise MalformedRequestError("the body is not valid JSON") from error
        if type(payload) is not dict:
            raise SchemaViolationError(
                'body: expected an object such as {"instances": [{...}]}',
                {"violations": [{"location": ["body"], "message": "expected an object"}]},
            )
        instances = payload.get("instances")
        extra = []
        if len(payload) != 1 or instances is None:
            extra = sorted(str(key)[:50] for key in payload if key != "instances")
        if extra or type(instances) is not list or not instances:
            message = (
                f"body: unexpected field(s) {extra[:5]}"
                if extra
                else "instances: expected a non-empty array of objects"
            )
            raise SchemaViolationError(
                message, {"violations": [{"location": ["body", "instances"], "message": message}]}
            )
        return instances

    def _predict(self, model_name: str, body: str | None, request_id: str) -> str:
        """The 200 answer's JSON body; the error contract's ServingError otherwise."""
        self._check_model(model_name)
        model, version, schema = self.runtime.require_model()
        instances = self._instances(body)
        rows = len(instances)
        if rows > self.settings.max_batch_rows:
            raise PayloadTooLargeError(
                f"{rows} instances; the limit is {self.settings.max_batch_rows} per request",
                {"limit_rows": self.settings.max_batch_rows},
            )
        numeric, categorical = schema.to_tensors(instances)
        started = time.perf_counter()
        prediction = model.predict(numeric, categorical)
        latency_ms = (time.perf_counter() - started) * 1000
        outputs = prediction.outputs.tolist()  # labels may be strings: numpy-native only for floats
        response: dict[str, Any] = {
            "model": model_name,
            "model_version": version.version,
            "request_id": request_id,
            "predictions": outputs,
        }
        if prediction.probabilities is not None:
            response["classes"] = model.metadata.classes
            # float32 from onnxruntime: orjson writes each as its shortest float32 text
            # (0.8, not 0.800000011920929), so no rounding pass is needed.
            response["probabilities"] = prediction.probabilities
        self._record(model_name, version.version, request_id, rows, latency_ms, outputs, instances)
        # orjson: about 5x json.dumps here, and float arrays serialised without .tolist().
        return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY).decode()

    def _infer(self, model_name: str, body: str | None, request_id: str) -> str:
        """The Open Inference Protocol's infer route: the 200 answer's JSON body, or the error
        contract's ServingError. Same model call, metrics line and capture record as
        `_predict`: drift, feedback and the rollout's evidence read v2 traffic unchanged."""
        from mlops.serving.oip import infer_response

        self._check_model(model_name)
        model, version, _ = self.runtime.require_model()
        request = self.decoder().decode(body)
        started = time.perf_counter()
        prediction = model.predict(request.numeric, request.categorical)
        latency_ms = (time.perf_counter() - started) * 1000
        labels = prediction.outputs.tolist()
        answer = infer_response(
            model_name=model_name,
            model_version=version.version,
            request_id=request_id,
            request=request,
            labels=labels,
            probabilities=prediction.probabilities,
            datatype=self._predictions_datatype,
        )
        self._record(
            model_name,
            version.version,
            request_id,
            request.rows,
            latency_ms,
            labels,
            request.instances,
        )
        return answer

    def v2_metadata(self) -> dict[str, Any]:
        """GET /v2/models/{model}: the serving version's tensors (mlops.serving.oip)."""
        from mlops.serving.oip import model_metadata

        model, version, schema = self.runtime.require_model()
        return model_metadata(
            model_name=self.settings.model_name,
            model_version=version.version,
            feature_schema=version.feature_schema,
            schema=schema,
            task=model.metadata.task,
            classes=list(model.metadata.classes),
        )

    def decoder(self) -> TensorDecoder:
        """The Open Inference Protocol's decoder for the loaded model (built on first use)."""
        if self._decoder is None:
            from mlops.serving.oip import TensorDecoder, output_names, predictions_datatype

            model, _, schema = self.runtime.require_model()
            task = model.metadata.task
            self._predictions_datatype = predictions_datatype(task, model.metadata.classes)
            self._decoder = TensorDecoder(schema, self.settings.max_batch_rows, output_names(task))
        return self._decoder

    def _record(
        self,
        model_name: str,
        version: int,
        request_id: str,
        rows: int,
        latency_ms: float,
        outputs: list[Any],
        instances: list[Any] | Callable[[], list[Any]],
    ) -> None:
        """The predict line and the capture record. `instances`, or a function that builds
        them (called only when this request's inputs are sampled)."""
        self.prediction_metrics.record(rows, latency_ms)
        payload: dict[str, Any] = {"outputs": outputs}
        if should_sample(self.sample_rate):
            payload["inputs"] = instances() if callable(instances) else instances
        self.capture.write(
            capture_record(
                "prediction",
                model_name,
                version,
                request_id,
                payload,
                function_version=self.settings.function_version,
            )
        )

    def _feedback(self, model_name: str, body: FeedbackRequest) -> dict[str, Any]:
        """The 202 answer's body; the feedback goes to capture, joined later on request ids."""
        self._check_model(model_name)
        model, version, _ = self.runtime.require_model()
        violations = feedback_violations(
            body.feedback,
            task=model.metadata.task,
            classes=model.metadata.classes,
            max_rows=self.settings.max_batch_rows,
        )
        if violations:
            raise SchemaViolationError(
                "; ".join(v["message"] for v in violations[:3])
                + (f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""),
                {"violations": violations[:100]},
            )
        self.count_metric("feedback_items", len(body.feedback))
        self.capture.write(
            capture_record(
                "feedback",
                model_name,
                version.version,
                self._request_id(),
                {"feedback": [item.model_dump() for item in body.feedback]},
                function_version=self.settings.function_version,
            )
        )
        return {"accepted": len(body.feedback)}
