"""The OpenAPI document, made exact per model.

Powertools generates the document from the routes, whose request model cannot know a
model's features. API Gateway has an explicit resource per model (DESIGN §7), so the
document does too: each declared model gets its own paths, with a request schema that lists
its features (types, bounds, allowed categories, all required, nothing else allowed) and the
batch limit. What the document accepts, the API accepts; what it refuses, the API refuses
with a 4xx.
"""

from __future__ import annotations

import copy
from typing import Any

from mlops.spec import ModelSpec

FLOAT32_MAX = 3.4e38
MAX_FEEDBACK_ITEMS = 1000  # mlops.serving.schemas.FeedbackRequest's limit
_TEMPLATE_PREFIXES = ("/models/{model}", "/v2/models/{model}")


def _numeric_value(feature: Any) -> dict[str, Any]:
    return {
        "type": ["number", "null"],
        "minimum": feature.min if feature.min is not None else -FLOAT32_MAX,
        "maximum": feature.max if feature.max is not None else FLOAT32_MAX,
        "description": feature.description or "Numeric; null is imputed as in training.",
    }


def instance_schema(spec: ModelSpec) -> dict[str, Any]:
    """JSON Schema of one row for `spec`'s features."""
    properties: dict[str, Any] = {}
    for feature in spec.features:
        if feature.type == "numeric":
            properties[feature.name] = _numeric_value(feature)
        else:
            categories = list(feature.categories or [])
            as_numbers = _numeric_categories(categories)
            description = feature.description or "Categorical."
            if as_numbers:
                properties[feature.name] = {
                    "anyOf": [
                        {"type": "string", "enum": categories},
                        {"type": "number", "enum": as_numbers},
                    ],
                    "description": description
                    + ' A number is accepted where its text is a category (2 for "2").',
                }
            else:
                properties[feature.name] = {
                    "type": "string",
                    "enum": categories,
                    "description": description,
                }
    return {
        "type": "object",
        "properties": properties,
        "required": [feature.name for feature in spec.features],
        "additionalProperties": False,
    }


def feedback_item_schema(spec: ModelSpec, max_batch_rows: int) -> dict[str, Any]:
    """JSON Schema of one feedback item for `spec`, as exact as the document can be.

    `row` is below the batch limit (no request had a later row). A regression's `actual` is a
    number. A classifier's classes belong to the serving version's artifact, not to the spec,
    so the document can only say "text or number"; the route refuses a value that is not one
    of them with 422 (mlops.serving.feedback), and `GET /models/{model}` lists them.
    """
    if spec.task == "regression":
        actual: dict[str, Any] = {
            "type": "number",
            "description": "The true value for that row (a finite number).",
        }
    else:
        actual = {
            "type": ["string", "integer", "number"],
            "description": "The true class for that row: one of the serving version's classes "
            "(`classes` in GET /models/{model}), as text or as the number whose text it is; "
            "any other value is refused with 422.",
        }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["request_id", "actual"],
        "properties": {
            "request_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "The request_id of the prediction answer.",
            },
            "row": {
                "type": "integer",
                "minimum": 0,
                "maximum": max_batch_rows - 1,
                "default": 0,
                "description": "The row of that request (0 for its first instance).",
            },
            "actual": actual,
        },
    }


def _numeric_categories(categories: list[str]) -> list[int | float]:
    """The categories that a JSON number also stands for (mlops.serving.features' rule)."""
    from mlops.serving.features import canonical_number_text

    numbers: list[int | float] = []
    for category in categories:
        try:
            number = float(category)
        except ValueError:
            continue
        if number == number and abs(number) != float("inf"):
            value: int | float = int(number) if number.is_integer() else number
            if canonical_number_text(value) == category:
                numbers.append(value)
    return numbers


def _tensor(name: str, datatypes: list[str], value: dict[str, Any], rows: int) -> dict[str, Any]:
    """One input tensor: its name, a datatype, shape [N] or [N, 1], N values (flat, or each
    wrapped in a one-element array: [N, 1]'s natural form)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"const": name},
            "shape": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "prefixItems": [
                    {"type": "integer", "minimum": 1, "maximum": rows},
                    {"const": 1},
                ],
            },
            "datatype": {"enum": datatypes},
            "data": {
                "type": "array",
                "minItems": 1,
                "maxItems": rows,
                "items": {
                    "anyOf": [
                        value,
                        {"type": "array", "minItems": 1, "maxItems": 1, "items": value},
                    ]
                },
            },
            "parameters": {"type": "object"},
        },
    }


def tensor_schemas(spec: ModelSpec, max_rows: int) -> list[dict[str, Any]]:
    """The input tensors `spec`'s features may be sent as (mlops.serving.oip's rules): a
    numeric feature as FP32/FP64 numbers or as integers of an integer datatype (within both
    the datatype's and the feature's range), a categorical one as its categories."""
    from mlops.serving.oip import FLOAT_DATATYPES, INTEGER_DATATYPES

    row_schema = instance_schema(spec)["properties"]
    schemas: list[dict[str, Any]] = []
    for feature in spec.features:
        value = row_schema[feature.name]
        if feature.type != "numeric":
            schemas.append(_tensor(feature.name, ["BYTES"], value, max_rows))
            continue
        schemas.append(_tensor(feature.name, list(FLOAT_DATATYPES), value, max_rows))
        for datatype, (low, high) in INTEGER_DATATYPES.items():
            lowest, highest = max(low, value["minimum"]), min(high, value["maximum"])
            if lowest > highest:
                continue
            integral = {
                **value,
                "type": ["integer", "null"],
                "minimum": lowest,
                "maximum": highest,
            }
            schemas.append(_tensor(feature.name, [datatype], integral, max_rows))
    return schemas


def infer_request_schema(spec: ModelSpec, max_rows: int) -> dict[str, Any]:
    """The Open Inference Protocol request for `spec`: every feature exactly once."""
    from mlops.serving.oip import MAX_ID_CHARS, output_names

    names = [feature.name for feature in spec.features]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["inputs"],
        "description": "One input tensor per feature, each once, all with the same N (the "
        "row count, at most the batch limit) and N values.",
        "properties": {
            "id": {"type": "string", "maxLength": MAX_ID_CHARS},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "minItems": len(names),
                "maxItems": len(names),
                "items": {"anyOf": tensor_schemas(spec, max_rows)},
                "allOf": [
                    {"contains": {"type": "object", "properties": {"name": {"const": name}}}}
                    for name in names
                ],
            },
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"enum": list(output_names(spec.task))},
                        "parameters": {"type": "object"},
                    },
                },
            },
        },
    }


_GATEWAY_ERRORS = {
    "403": "Missing or invalid API key (x-api-key)",
    "405": "Another method on this path (the Allow header lists the right ones)",
}


def _concrete_operation(operation: dict[str, Any], model: str, v2: bool) -> dict[str, Any]:
    """The operation for one model; the gateway's answers (403, 405) added. On v2 paths the
    403 is API Gateway's own, in the error contract's native shape (a gateway response
    cannot tell the routes apart); the 405 comes from the function, in v2's shape."""
    concrete = copy.deepcopy(operation)
    concrete["parameters"] = [
        p
        for p in concrete.get("parameters", [])
        if not (p.get("in") == "path" and p.get("name") == "model")
    ]
    if not concrete["parameters"]:
        del concrete["parameters"]
    concrete["operationId"] = f"{concrete.get('operationId', 'op')}_{model}".replace("-", "_")
    concrete["tags"] = [model]
    error_content = next(
        (
            response["content"]
            for code, response in concrete.get("responses", {}).items()
            if str(code).startswith("4") and "content" in response
        ),
        None,
    )
    for code, description in _GATEWAY_ERRORS.items():
        answer: dict[str, Any] = {"description": description}
        if v2 and code == "403":
            answer["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
            }
        elif error_content is not None:
            answer["content"] = copy.deepcopy(error_content)
        concrete.setdefault("responses", {}).setdefault(code, answer)
    return concrete


def per_model_document(
    document: dict[str, Any], specs: dict[str, ModelSpec], max_batch_rows: int
) -> dict[str, Any]:
    """Replace `/models/{model}...` and `/v2/models/{model}...` paths by one concrete set per
    declared model."""
    result = copy.deepcopy(document)
    templated = {
        path: operations
        for path, operations in result["paths"].items()
        if path.startswith(_TEMPLATE_PREFIXES)
    }
    for path in templated:
        del result["paths"][path]
    # Every route needs the key (API Gateway's usage plan; the local gateway checks it too):
    # declared once for the whole document, so a generated client sends it.
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {})["apiKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    result["security"] = [{"apiKey": []}]
    for name, spec in sorted(specs.items()):
        for path, operations in templated.items():
            concrete_path = path.replace("{model}", name, 1)
            result["paths"][concrete_path] = {
                method: _concrete_operation(operation, name, concrete_path.startswith("/v2/"))
                for method, operation in operations.items()
            }
        infer = result["paths"][f"/v2/models/{name}/infer"]["post"]
        infer["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": infer_request_schema(spec, max_batch_rows)}},
        }
        predict = result["paths"][f"/models/{name}/predict"]["post"]
        predict["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["instances"],
                        "properties": {
                            "instances": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": max_batch_rows,
                                "items": instance_schema(spec),
                            }
                        },
                    }
                }
            },
        }
        feedback = result["paths"][f"/models/{name}/feedback"]["post"]
        feedback["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["feedback"],
                        "properties": {
                            "feedback": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_FEEDBACK_ITEMS,
                                "items": feedback_item_schema(spec, max_batch_rows),
                            }
                        },
                    }
                }
            },
        }
    return result
