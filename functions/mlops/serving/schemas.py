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


# -- the Open Inference Protocol (KServe v2 REST), mlops.serving.oip ----------------------------
Parameters = dict[str, StrictStr | StrictInt | StrictFloat | bool]


class OutputTensor(BaseModel):
    name: str = Field(description="`predictions`, or `probabilities` for classifiers.")
    shape: list[int] = Field(description="[N] for predictions; [N, classes] for probabilities.")
    datatype: str = Field(description="BYTES or INT64 labels, FP64 values, FP32 probabilities.")
    data: list[Any] = Field(description="Row-major, flat.")


class InferResponse(BaseModel):
    model_name: str
    model_version: str = Field(description="The model version that answered.")
    id: str = Field(description="The request's `id` if it sent one, else `parameters.request_id`.")
    parameters: dict[str, str] = Field(
        description="`request_id`: send it back with feedback for this prediction."
    )
    outputs: list[OutputTensor]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 for the batch dimension.")


class ModelMetadataResponse(BaseModel):
    name: str
    versions: list[str] = Field(description="The serving version (the alias decides which).")
    platform: str
    inputs: list[MetadataTensor] = Field(description="One tensor per feature, spec order.")
    outputs: list[MetadataTensor]
    parameters: Parameters = Field(
        description="`task`; for classifiers `classes`: the probability columns' order, as "
        "JSON text."
    )


class ModelReadyResponse(BaseModel):
    name: str
    ready: bool


class V2ErrorResponse(BaseModel):
    """The protocol's error (`error` is the message), with the error contract's code and
    details beside it."""

    error: str
    code: str
    details: dict[str, Any]
