"""Request and response bodies of the prediction API (they drive the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)


class PredictResponse(BaseModel):
    model: str
    model_version: int = Field(description="The model version that answered.")
    request_id: str = Field(description="Send it back with feedback for this prediction.")
    predictions: list[Any] = Field(description="Class labels or predicted values, one per row.")
    classes: list[Any] | None = Field(
        default=None, description="Classifiers: the order of the probability columns."
    )
    probabilities: list[list[float]] | None = Field(
        default=None, description="Classifiers: one probability per class, per row."
    )


def _integral_number(value: Any) -> Any:
    """JSON Schema's integer admits 3.0; booleans and strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


class FeedbackItem(BaseModel):
    # Strict: `"row": false` or `"row": "3"` is a schema violation, not a coerced 0 or 3.
    model_config = ConfigDict(extra="forbid", strict=True)

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    row: Annotated[int, Field(ge=0, le=100_000), BeforeValidator(_integral_number)] = 0
    # Finite numbers only: NaN or Infinity is no ground truth (and JSON has neither).
    actual: StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)] | StrictStr = Field(
        description="The ground truth for that row."
    )


class FeedbackRequest(BaseModel):
    """Ground truth for earlier predictions, joined on request id and row."""

    model_config = ConfigDict(extra="forbid")

    feedback: Annotated[list[FeedbackItem], Field(min_length=1, max_length=1000)]


class FeedbackResponse(BaseModel):
    accepted: int


class ModelDescription(BaseModel):
    """The version that answered this request (during a canary, the canary answers its share of
    these too: both sit behind alias `live`), with its status read from the registry now."""

    model: str
    version: int
    status: str
    function_version: str
    task: str
    classes: list[Any]
    features: list[dict[str, Any]]
    metrics: dict[str, float | None]
    trained_at: str
    lineage: dict[str, Any]
    artifact_sha256: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    error: ErrorDetail
