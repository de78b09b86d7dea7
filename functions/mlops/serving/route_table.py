"""Every route of the prediction API, declared once.

The predict function's router (405 vs 404), the REST API in infra/api.py (one resource and
method per model and route), the local API's gateway and the OpenAPI document's per-model paths
all read this table, so a route added here reaches every front. Importable without the AWS SDK
or Powertools: infra and the predict function's cold path both import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODEL_PARAMETER = "{model}"


@dataclass(frozen=True)
class Route:
    """One method on one path template; `name` is its stable part of CDK construct ids."""

    method: str
    template: str
    name: str

    def path(self, model: str) -> str:
        """The concrete path for `model` (API Gateway has one resource per model)."""
        return self.template.replace(MODEL_PARAMETER, model)

    @property
    def pattern(self) -> re.Pattern[str]:
        """Matches the concrete path of any model (a trailing slash allowed, as API Gateway
        and Powertools allow it); group `model` is the model's name."""
        escaped = re.escape(self.template).replace(re.escape(MODEL_PARAMETER), "(?P<model>[^/]+)")
        return re.compile(f"^{escaped}/?$")


#: Per-model routes: native (`/models/...`) and the Open Inference Protocol (`/v2/models/...`,
#: mlops.serving.oip). Names are construct ids: renaming one replaces its AWS resources.
MODEL_ROUTES: tuple[Route, ...] = (
    Route("GET", "/models/{model}", "Describe"),
    Route("POST", "/models/{model}/predict", "Predict"),
    Route("POST", "/models/{model}/feedback", "Feedback"),
    Route("GET", "/v2/models/{model}", "V2Metadata"),
    Route("GET", "/v2/models/{model}/ready", "V2Ready"),
    Route("POST", "/v2/models/{model}/infer", "V2Infer"),
)
#: Routes that belong to no model (served by any model's function).
SHARED_ROUTES: tuple[Route, ...] = (Route("GET", "/openapi.json", "OpenApi"),)
#: The prefix of the Open Inference Protocol's paths: errors there take its shape.
V2_PREFIX = "/v2/"

_PATTERNS = [(route.pattern, route) for route in (*MODEL_ROUTES, *SHARED_ROUTES)]


def match_routes(path: str) -> list[Route]:
    """The routes whose template matches `path` (any method; empty for an unknown path)."""
    return [route for pattern, route in _PATTERNS if pattern.match(path)]


def route_model(path: str) -> tuple[str, Route] | None:
    """(model, a route) for a per-model path, else None."""
    for pattern, route in _PATTERNS:
        match = pattern.match(path)
        if match and "model" in match.groupdict():
            return match.group("model"), route
    return None


def is_v2(path: str) -> bool:
    return path.startswith(V2_PREFIX)
