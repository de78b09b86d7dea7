"""Request and response bodies of the prediction API (they drive the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

FeatureValue = float | str | None


class PredictRequest(BaseModel):
    """Rows to score, each an object of named feature values (see GET /models/{model})."""

    model_config = ConfigDict(extra="forbid")

    instances: Annotated[
        list[dict[str, FeatureValue]],
        Field(
            min_length=1,
            description="One object per row: feature name -> value. Numeric "
            "features take numbers (null is imputed as in training); categorical features take "
            "one of their allowed strings.",
        ),
    ]


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


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    row: Annotated[int, Field(ge=0, le=100_000)] = 0
    actual: float | str = Field(description="The ground truth for that row.")


class FeedbackRequest(BaseModel):
    """Ground truth for earlier predictions, joined on request id and row."""

    model_config = ConfigDict(extra="forbid")

    feedback: Annotated[list[FeedbackItem], Field(min_length=1, max_length=1000)]


class FeedbackResponse(BaseModel):
    accepted: int


class ModelDescription(BaseModel):
    model: str
    version: int
    status: str
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
