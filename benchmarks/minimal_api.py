"""The framework floor: a Powertools REST resolver with validation and nothing of ours.

Same route shape as the real API, with a generic body model validated by Powertools (what the
predict route did before it parsed its own body), answering a constant: what Powertools'
routing, JSON parse and pydantic validation cost by themselves, to tell them apart from the
project's own code in the handler's time.
No `from __future__ import annotations` here: Powertools resolves route annotations at
registration, against this module's globals.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """A generic `{"instances": [{...}]}` body: one pydantic pass over every row."""

    model_config = ConfigDict(extra="forbid")

    instances: Annotated[list[dict[str, Any]], Field(min_length=1)]


def minimal_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    @app.post("/models/<model>/predict")
    def predict(model: str, body: Annotated[PredictRequest, Body()]) -> Response[str]:
        return Response(
            status_code=200, content_type=content_types.APPLICATION_JSON, body='{"ok":true}'
        )

    return app
