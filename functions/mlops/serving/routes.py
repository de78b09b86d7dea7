"""The REST resolver behind every route but the exact predict path: routes, validation,
the error contract's exception handlers, and the source of the OpenAPI document.

Built on first use (`PredictionService.app`), not at load: importing Powertools' event handler
and the response schemas and registering validated routes cost ~70 ms of a cold start that a
predict request never needs (benchmarks/results/latest.md).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from mlops.serving.api import API_TITLE, allowed_methods, error_json
from mlops.serving.errors import (
    MalformedRequestError,
    MethodNotAllowedError,
    ModelNotFoundError,
    SchemaViolationError,
    ServingError,
    UnsupportedMediaTypeError,
)
from mlops.serving.runtime import describe_runtime
from mlops.serving.schemas import (
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    InferResponse,
    ModelDescription,
    ModelMetadataResponse,
    ModelReadyResponse,
    PredictResponse,
    V2ErrorResponse,
)

if TYPE_CHECKING:
    from mlops.serving.api import PredictionService

logger = logging.getLogger("mlops.serving.api")


def error_response(error: ServingError, path: str = "") -> Response[str]:
    """The error contract's answer (in the Open Inference Protocol's shape on its paths)."""
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error_json(error, path),
    )


def json_response(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
    )


def _errors(*codes: int, v2: bool = False) -> dict[int, OpenAPIResponse]:
    described = {
        400: "Malformed JSON",
        404: "Unknown model",
        413: "Payload too large",
        415: "Unsupported media type",
        422: "Schema violation (field and row named)",
        503: "Model unavailable",
    }
    return {
        code: {
            "description": described[code],
            "content": {"application/json": {"model": V2ErrorResponse if v2 else ErrorResponse}},
        }
        for code in codes
    }


def build_app(service: PredictionService) -> APIGatewayRestResolver:
    """The resolver for every route; the predict route is also dispatched without it."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.configure_openapi(
        title=API_TITLE,
        version="1.0.0",
        summary="Predictions, model descriptions and feedback.",
    )

    @app.post(
        "/models/<model>/predict",
        summary="Predict",
        responses={
            200: {
                "description": "Predictions",
                "content": {"application/json": {"model": PredictResponse}},
            },
            **_errors(400, 404, 413, 415, 422, 503),
        },
    )
    def predict(model: str) -> Response[str]:
        # The body is parsed here, not by the resolver's pydantic validation: the per-model
        # FeatureSchema checks every value strictly (pydantic would coerce true to 1.0),
        # and skipping a generic model pass saves ~18 ms on 1,000 rows (benchmarks/). The
        # OpenAPI requestBody is the exact per-model schema (mlops.serving.openapi).
        event = app.current_event
        body = service._predict(model, event.body, service._request_id())
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)

    @app.get(
        "/models/<model>",
        summary="Describe the serving model version",
        responses={
            200: {
                "description": "The serving version",
                "content": {"application/json": {"model": ModelDescription}},
            },
            **_errors(404, 503),
        },
    )
    def describe(model: str) -> Response[str]:
        service._check_model(model)
        service.count_metric("describe_requests")
        return json_response(200, describe_runtime(service.runtime))

    @app.post(
        "/models/<model>/feedback",
        summary="Send ground truth for predictions",
        responses={
            202: {
                "description": "Accepted",
                "content": {"application/json": {"model": FeedbackResponse}},
            },
            **_errors(400, 404, 413, 415, 422, 503),
        },
    )
    def feedback(model: str, body: Annotated[FeedbackRequest, Body()]) -> Response[str]:
        return json_response(202, service._feedback(model, body))

    @app.post(
        "/v2/models/<model>/infer",
        summary="Infer (Open Inference Protocol)",
        description="KServe v2 REST inference: one input tensor per feature, named as the spec "
        "names it, shape [N] or [N, 1]; the same checks, limits, capture and metrics as "
        "predict. Errors carry the message in `error`, with `code` and `details` beside it.",
        responses={
            200: {
                "description": "Output tensors",
                "content": {"application/json": {"model": InferResponse}},
            },
            **_errors(400, 404, 413, 415, 422, 503, v2=True),
        },
    )
    def infer(model: str) -> Response[str]:
        # Dispatched on its exact path before the resolver (PredictionService.handle); this
        # registration is what the document describes and what other paths fall back to.
        body = service._infer(model, app.current_event.body, service._request_id())
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)

    @app.get(
        "/v2/models/<model>",
        summary="Model metadata (Open Inference Protocol)",
        responses={
            200: {
                "description": "The serving version's input and output tensors",
                "content": {"application/json": {"model": ModelMetadataResponse}},
            },
            **_errors(404, 503, v2=True),
        },
    )
    def metadata(model: str) -> Response[str]:
        service._check_model(model)
        service.count_metric("metadata_requests")
        return json_response(200, service.v2_metadata())

    @app.get(
        "/v2/models/<model>/ready",
        summary="Model ready (Open Inference Protocol)",
        responses={
            200: {
                "description": "The model is loaded and serves",
                "content": {"application/json": {"model": ModelReadyResponse}},
            },
            **_errors(404, 503, v2=True),
        },
    )
    def ready(model: str) -> Response[str]:
        service._check_model(model)
        service.count_metric("ready_requests")
        service.runtime.require_model()  # 503 with the reason when nothing serves
        return json_response(200, {"name": model, "ready": True})

    @app.get("/openapi.json", summary="This document", include_in_schema=False)
    def openapi() -> Response[str]:
        service.count_metric("openapi_requests")
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=service.openapi_json(),
        )

    @app.exception_handler(ServingError)
    def serving_error(error: ServingError) -> Response[str]:
        name = "unavailable_requests" if error.status >= 500 else "invalid_requests"
        service.count_metric(name)
        return error_response(error, app.current_event.path)

    @app.exception_handler(RequestValidationError)
    def validation_error(error: RequestValidationError) -> Response[str]:
        service.count_metric("invalid_requests")
        problems = error.errors()
        path = app.current_event.path
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(MalformedRequestError("the body is not valid JSON"), path)
        violations = [
            {
                "location": [str(part) for part in problem.get("loc", ())],
                "message": str(problem.get("msg", problem.get("type", "")))[:200],
            }
            for problem in problems[:20]
        ]
        first = violations[0] if violations else {"location": [], "message": "invalid"}
        return error_response(
            SchemaViolationError(
                f"{'.'.join(first['location'][1:]) or 'body'}: {first['message']}",
                {"violations": violations},
            ),
            path,
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported(_: RequestUnsupportedContentType) -> Response[str]:
        service.count_metric("invalid_requests")
        return error_response(
            UnsupportedMediaTypeError("send the body as application/json"),
            app.current_event.path,
        )

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        service.count_metric("invalid_requests")
        path = app.current_event.path
        allowed = allowed_methods(path)
        if allowed:
            return Response(
                status_code=405,
                content_type=content_types.APPLICATION_JSON,
                headers={"Allow": ", ".join(allowed)},
                body=error_json(
                    MethodNotAllowedError(
                        f"{app.current_event.http_method[:10]} is not allowed here; use "
                        f"{' or '.join(allowed)}",
                        {"allowed": allowed},
                    ),
                    path,
                ),
            )
        return error_response(
            ModelNotFoundError("no such route or model", {"path": path[:200]}), path
        )

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        # Never a stack trace on the wire; the log keeps it.
        logger.exception("unexpected error")
        service.count_metric("unavailable_requests")
        return error_response(
            ServingError("internal error; it has been logged"), app.current_event.path
        )

    return app
