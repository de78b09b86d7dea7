"""Errors the prediction API answers with, each mapped to one status and one stable code.

The wire format is the error contract: `{"error": {"code", "message", "details"}}`. On the Open
Inference Protocol's routes (`/v2/...`) the protocol fixes `error` as the message string, so the
same error is written `{"error": message, "code": code, "details": details}` there
(`body_v2`): a v2 client reads its message where it expects it, and ours keeps the code and
the details beside it.
"""

from __future__ import annotations

from typing import Any


class ServingError(Exception):
    """An error with the HTTP status and code the API answers with."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def body_v2(self) -> dict[str, Any]:
        """The same error in the Open Inference Protocol's shape (`error` is the message)."""
        return {"error": self.message, "code": self.code, "details": self.details}


class MalformedRequestError(ServingError):
    status, code = 400, "malformed_json"


class ModelNotFoundError(ServingError):
    status, code = 404, "model_not_found"


class MethodNotAllowedError(ServingError):
    status, code = 405, "method_not_allowed"


class PayloadTooLargeError(ServingError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaTypeError(ServingError):
    status, code = 415, "unsupported_media_type"


class SchemaViolationError(ServingError):
    status, code = 422, "schema_violation"


class ModelUnavailableError(ServingError):
    status, code = 503, "model_unavailable"


class NoProductionModelError(ModelUnavailableError):
    code = "no_production_model"
