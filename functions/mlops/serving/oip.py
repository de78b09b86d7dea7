"""The Open Inference Protocol (KServe v2 REST; also Triton's and MLServer's): typed, named,
columnar tensors in and out of the same model the native route serves.

Why a second protocol: a 1,000-row request on the native route spends most of its time turning
1,000 JSON objects into tensors (a dict lookup per value); here each feature arrives as one
array, decoded straight into numpy (one C-level conversion and vectorised checks per feature),
so a large batch answers at about the model's own speed (benchmarks/README.md).

The request's input tensors are the spec's features, one tensor per feature, named as the spec
names them, shape `[N]` or `[N, 1]`; numeric features take FP32, FP64 or an integer datatype,
categorical ones BYTES (strings; a number whose text is a category is accepted, the native
route's rule). A single `[N, F]` tensor is refused, on purpose: the spec's names are the
contract (DESIGN §7), and a positional matrix silently swaps two columns whose ranges overlap.

Every value is checked as the native route checks it (mlops.serving.features, shared code):
bounds, float32 range, booleans and strings in numeric tensors, declared categories; null in a
numeric tensor is missing and imputed. Errors are the native error contract's codes and
statuses, written in the protocol's shape (`ServingError.body_v2`), naming the input tensor and
the row.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from mlops.serving.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    SchemaViolationError,
)
from mlops.serving.features import MAX_REPORTED_VIOLATIONS, FeatureSchema, _clip

PLATFORM = "onnx_onnxv1"  # the protocol's platform name for an ONNX model (<project>_<format>)
FLOAT_DATATYPES = ("FP32", "FP64")
#: Integer datatypes and their ranges (a value outside is a type violation).
INTEGER_DATATYPES: dict[str, tuple[int, int]] = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
}
NUMERIC_DATATYPES = (*FLOAT_DATATYPES, *INTEGER_DATATYPES)
# BYTES only: its data may still hold a number whose text is a category (the native rule), which
# is what the OpenAPI schema states; a numeric datatype on a categorical feature is refused.
CATEGORICAL_DATATYPES = ("BYTES",)
REQUEST_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
TENSOR_FIELDS = frozenset({"name", "shape", "datatype", "data", "parameters"})
MAX_ID_CHARS = 256
PREDICTIONS, PROBABILITIES = "predictions", "probabilities"


@dataclass(frozen=True)
class InferRequest:
    """A decoded, checked inference request: the model's tensors plus what the answer needs."""

    id: str | None
    rows: int
    numeric: np.ndarray  # float32, rows x numeric features (NaN: missing, imputed)
    categorical: np.ndarray  # object (str), rows x categorical features
    columns: dict[str, list[Any]]  # feature -> the client's values, row order (capture)
    outputs: tuple[str, ...] | None  # requested output names, None for all

    def instances(self) -> list[dict[str, Any]]:
        """The rows as the native route's instances (the capture format drift reads)."""
        names = list(self.columns)
        return [
            dict(zip(names, row, strict=True)) for row in zip(*self.columns.values(), strict=True)
        ]


class _Violations:
    """Problems found, each naming the input tensor and (where there is one) the row."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str | None, str]] = []

    def tensor(self, order: int, name: str | None, message: str) -> None:
        self.items.append((-1, order, name, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        self.items.sort(key=lambda item: (item[0], item[1]))
        shown = [
            {"input": name, **({"row": row} if row >= 0 else {}), "message": message}
            for row, _, name, message in self.items[:MAX_REPORTED_VIOLATIONS]
        ]
        first = shown[0]
        where = ", ".join(
            part
            for part in (
                f"input '{first['input']}'" if first["input"] is not None else "inputs",
                f"row {first['row']}" if "row" in first else "",
            )
            if part
        )
        extra = len(self.items) - 1
        more = f" (and {extra} more)" if extra else ""
        raise SchemaViolationError(f"{where}: {first['message']}{more}", {"violations": shown})


def _schema_error(location: str, message: str) -> SchemaViolationError:
    text = f"{location}: {message}"
    return SchemaViolationError(text, {"violations": [{"input": None, "message": text}]})


def _parse(body: str | None) -> dict[str, Any]:
    try:
        payload = orjson.loads(body or "")
    except (ValueError, RecursionError) as error:  # orjson.JSONDecodeError is a ValueError
        raise MalformedRequestError("the body is not valid JSON") from error
    if type(payload) is not dict:
        raise _schema_error("body", 'expected an object such as {"inputs": [{...}]}')
    extra = sorted(_clip(str(key)) for key in payload if key not in REQUEST_FIELDS)
    if extra:
        raise _schema_error("body", f"unexpected field(s) {extra[:5]}; expected {_fields()}")
    return payload


def _fields() -> list[str]:
    return sorted(REQUEST_FIELDS)


def _request_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("id")
    if value is None:
        return None
    if type(value) is not str or len(value) > MAX_ID_CHARS:
        raise _schema_error("id", f"expected a string of at most {MAX_ID_CHARS} characters")
    return value


def _requested_outputs(payload: dict[str, Any], available: tuple[str, ...]) -> tuple[str, ...]:
    outputs = payload.get("outputs")
    if outputs is None:
        return available
    if type(outputs) is not list or not all(
        type(item) is dict
        and type(item.get("name")) is str
        and set(item) <= {"name", "parameters"}
        and type(item.get("parameters", {})) is dict
        for item in outputs
    ):
        raise _schema_error("outputs", 'expected an array of objects such as {"name": "..."}')
    names = tuple(dict.fromkeys(item["name"] for item in outputs))
    unknown = [_clip(name) for name in names if name not in available]
    if unknown:
        raise _schema_error(
            "outputs", f"unknown output(s) {unknown[:5]}; this model has {list(available)}"
        )
    return names or available


def _rows_of(shape: Any) -> int | None:
    """N for a shape [N] or [N, 1]; None for any other shape. A size written 396.0 is the
    integer 396, as JSON Schema (and the document) count it: JSON has one number type."""
    if type(shape) is not list or not 1 <= len(shape) <= 2:
        return None
    if not all(_integral(size) for size in shape) or (len(shape) == 2 and shape[1] != 1):
        return None
    return int(shape[0]) if shape[0] >= 1 else None


def _integral(size: Any) -> bool:
    return type(size) is int or (type(size) is float and size.is_integer())


def _flat(data: list[Any], rows: int) -> list[Any] | None:
    """The tensor's elements in row order, or None when their count is not the shape's."""
    return data if len(data) == rows else None


@lru_cache(maxsize=64)
def _doubles(count: int) -> struct.Struct:
    """The packer of `count` native doubles (built once per request size)."""
    return struct.Struct(f"{count}d")


def _unwrap(values: list[Any]) -> list[Any]:
    """An [N, 1] tensor in its natural nested form ([[v], [v], ...]) as its flat elements;
    the protocol allows either form (any other array element stays, and is refused)."""
    return [value[0] if type(value) is list and len(value) == 1 else value for value in values]


class TensorDecoder:
    """Decodes inference requests for one served model (its feature schema, row limit and
    outputs); built once per execution environment."""

    def __init__(self, schema: FeatureSchema, max_rows: int, outputs: tuple[str, ...]) -> None:
        self.schema = schema
        self.max_rows = max_rows
        self.outputs = outputs
        self._numeric = {field.name: index for index, field in enumerate(schema.numeric)}
        self._categorical = {field.name: index for index, field in enumerate(schema.categorical)}
        # The order features are reported and captured in: the model's input order.
        self._order = [field.name for field in schema.numeric] + [
            field.name for field in schema.categorical
        ]
        # name -> the datatypes its tensor may declare (one dict lookup per tensor).
        self._datatypes = {name: frozenset(NUMERIC_DATATYPES) for name in self._numeric}
        self._datatypes.update(
            {name: frozenset(CATEGORICAL_DATATYPES) for name in self._categorical}
        )
        bounds = [schema.bounds(index) for index in range(len(schema.numeric))]
        self._low = np.array([[low] for low, _ in bounds], dtype=np.float64).reshape(-1, 1)
        self._high = np.array([[high] for _, high in bounds], dtype=np.float64).reshape(-1, 1)

    def decode(self, body: str | None) -> InferRequest:
        """The checked tensors, or the error contract's 400/413/422 (first problem in the
        message, up to 20 in `details.violations`, each naming its input and row)."""
        payload = _parse(body)
        request_id = _request_id(payload)
        parameters = payload.get("parameters")
        if parameters is not None and type(parameters) is not dict:
            raise _schema_error("parameters", "expected an object")
        outputs = _requested_outputs(payload, self.outputs)
        tensors = self._tensors(payload.get("inputs"))
        rows = next(iter(tensors.values()))[0]
        violations = _Violations()
        numeric = self._numeric_matrix(rows, tensors, violations)
        categorical = np.empty((rows, len(self._categorical)), dtype=object)
        for name, index in self._categorical.items():
            count, datatype, values = tensors[name]
            tensors[name] = (count, datatype, _unwrap(values))
            self.schema.categorical_column(index, tensors[name][2], categorical, violations.items)
        violations.raise_if_any()
        columns = {name: tensors[name][2] for name in self._order}
        return InferRequest(request_id, rows, numeric, categorical, columns, outputs)

    def _tensors(self, inputs: Any) -> dict[str, tuple[int, str, list[Any]]]:
        """name -> (rows, datatype, elements) for every feature; 413/422 otherwise."""
        if type(inputs) is not list or not inputs:
            raise _schema_error(
                "inputs",
                f"expected a non-empty array of input tensors, one per feature: {self._order}",
            )
        violations = _Violations()
        tensors: dict[str, tuple[int, str, list[Any]]] = {}
        datatypes, max_rows = self._datatypes, self.max_rows
        for order, tensor in enumerate(inputs):
            # The common case in a few lookups: a dict with a known, new name, an allowed
            # datatype, a list of data and a shape [N]; anything else is examined below.
            if type(tensor) is dict and TENSOR_FIELDS.issuperset(tensor):
                name, shape, data = tensor.get("name"), tensor.get("shape"), tensor.get("data")
                allowed = datatypes.get(name) if type(name) is str else None
                if (
                    allowed is not None
                    and type(name) is str
                    and type(datatype := tensor.get("datatype")) is str
                    and datatype in allowed
                    and type(shape) is list
                    and len(shape) == 1
                    and type(data) is list
                    and type(rows := shape[0]) is int
                    and 1 <= rows <= max_rows
                    and len(data) == rows
                    and name not in tensors
                    and type(tensor.get("parameters", {})) is dict
                ):
                    tensors[name] = (rows, datatype, data)
                    continue
            self._examine(order, tensor, tensors, violations)
        missing = [name for name in self._order if name not in tensors]
        if missing and not violations.items:
            violations.tensor(
                len(inputs), missing[0], f"missing; send one input tensor per feature: {missing}"
            )
        counts = {rows for rows, _, _ in tensors.values()}
        if len(counts) > 1 and not violations.items:
            sizes = {name: rows for name, (rows, _, _) in tensors.items()}
            violations.tensor(0, None, f"every input needs the same number of rows; got {sizes}")
        violations.raise_if_any()
        return tensors

    def _examine(
        self,
        order: int,
        tensor: Any,
        tensors: dict[str, tuple[int, str, list[Any]]],
        violations: _Violations,
    ) -> None:
        """One tensor the quick test did not admit: [N, 1], or a problem to report (413 for
        too many rows)."""
        if type(tensor) is not dict:
            violations.tensor(order, None, f"inputs[{order}]: expected a tensor object")
            return
        name = tensor.get("name")
        if type(name) is not str:
            violations.tensor(order, None, f"inputs[{order}]: 'name' must be a string")
            return
        problem = self._tensor_problem(name, tensor, tensors)
        if problem:
            violations.tensor(order, _clip(name), problem)
            return
        shape = tensor["shape"]
        rows = _rows_of(shape)
        assert rows is not None  # checked by _tensor_problem
        if rows > self.max_rows:
            raise PayloadTooLargeError(
                f"input '{_clip(name)}' has {rows} rows; the limit is {self.max_rows} per request",
                {"limit_rows": self.max_rows},
            )
        values = _flat(tensor["data"], rows)
        if values is None:
            violations.tensor(
                order,
                name,
                f"data must hold the {rows} element(s) its shape {shape} declares "
                f"(got {len(tensor['data'])})",
            )
            return
        tensors[name] = (rows, tensor["datatype"], values)

    def _tensor_problem(
        self, name: str, tensor: dict[str, Any], seen: dict[str, Any]
    ) -> str | None:
        if name not in self._numeric and name not in self._categorical:
            return f"unknown input; this model's inputs are its features: {self._order}"
        if name in seen:
            return "sent twice"
        extra = sorted(_clip(str(key)) for key in tensor if key not in TENSOR_FIELDS)
        if extra:
            return f"unexpected field(s) {extra[:5]}"
        missing = [key for key in ("shape", "datatype", "data") if key not in tensor]
        if missing:
            return f"missing {missing}"
        allowed = NUMERIC_DATATYPES if name in self._numeric else CATEGORICAL_DATATYPES
        datatype = tensor["datatype"]
        if datatype not in allowed:
            shown = _clip(str(datatype))
            return f"datatype '{shown}' is not one of {list(allowed)}"
        if _rows_of(tensor["shape"]) is None:
            return f"shape must be [N] or [N, 1] with N >= 1; got {_clip(str(tensor['shape']))}"
        if type(tensor["data"]) is not list:
            return "data must be an array"
        parameters = tensor.get("parameters")
        if parameters is not None and type(parameters) is not dict:
            return "parameters must be an object"
        return None

    def _numeric_matrix(
        self, rows: int, tensors: dict[str, tuple[int, str, list[Any]]], violations: _Violations
    ) -> np.ndarray:
        """Every numeric feature at once: float32, rows x features, checked in C where the
        values allow it.

        `struct`'s "d" format converts a list of numbers in one C loop and raises on anything
        that is not one (a string, null, an array, an integer beyond a double); it takes a
        boolean for 0 or 1, so the elements equal to 0 or 1 (rare in measurements) are looked
        at one by one. Bounds are
        one vectorised comparison. A feature that fails any of this takes the native route's
        value-by-value check (mlops.serving.features), which names each offending row and
        imputes nulls.
        """
        names = list(self._numeric)
        joined: list[Any] = []
        for name in names:
            joined += tensors[name][2]
        slow: set[int] = set()
        try:
            # One C loop over every numeric value of the request (struct: ~4x array("d") here).
            packed = _doubles(len(joined)).pack(*joined)
            matrix = np.frombuffer(packed, dtype=np.float64).reshape(len(names), rows)
        except struct.error:
            matrix = np.empty((len(names), rows), dtype=np.float64)
            for index, name in enumerate(names):
                try:
                    matrix[index] = np.frombuffer(array("d", tensors[name][2]), dtype=np.float64)
                except (TypeError, OverflowError):
                    count, datatype, values = tensors[name]
                    tensors[name] = (count, datatype, _unwrap(values))  # [[v], ...] is [v, ...]
                    slow.add(index)
                    matrix[index] = 0.5  # neither 0 nor 1, within every bound: skipped below
        zeros_or_ones = np.nonzero((matrix == 0.0) | (matrix == 1.0))
        for index, row in zip(*(axis.tolist() for axis in zeros_or_ones), strict=True):
            if index not in slow and type(tensors[names[index]][2][row]) is bool:
                slow.add(index)
        within = (matrix >= self._low) & (matrix <= self._high)
        slow.update(np.flatnonzero(np.count_nonzero(within, axis=1) != rows).tolist())
        if slow and not matrix.flags.writeable:  # a view of the packed bytes: copy to fix
            matrix = matrix.copy()
        for index in sorted(slow):
            values = tensors[names[index]][2]
            spec = self.schema.numeric[index]
            matrix[index] = self.schema.numeric_column(spec, index, values, violations.items)
        for index, name in enumerate(names):
            datatype = tensors[name][1]
            if datatype in INTEGER_DATATYPES:
                self._integer_check(index, datatype, matrix[index], tensors[name][2], violations)
        return np.ascontiguousarray(matrix.T, dtype=np.float32)

    def _integer_check(
        self,
        index: int,
        datatype: str,
        array: np.ndarray,
        values: list[Any],
        violations: _Violations,
    ) -> None:
        """An integer tensor holds integers within its datatype's range (null: imputed)."""
        low, high = INTEGER_DATATYPES[datatype]
        finite = np.isfinite(array)
        bad = finite & ((array != np.trunc(array)) | (array < low) | (array > high))
        name = self.schema.numeric[index].name
        for row in np.flatnonzero(bad)[:MAX_REPORTED_VIOLATIONS].tolist():
            violations.items.append(
                (row, index, name, f"{values[row]} is not a valid {datatype} value")
            )


def output_names(task: str) -> tuple[str, ...]:
    return (PREDICTIONS, PROBABILITIES) if task == "classification" else (PREDICTIONS,)


def predictions_datatype(task: str, classes: list[Any]) -> str:
    if task != "classification":
        return "FP64"
    return "INT64" if classes and all(type(item) is int for item in classes) else "BYTES"


def infer_response(
    *,
    model_name: str,
    model_version: int,
    request_id: str,
    request: InferRequest,
    labels: list[Any],
    probabilities: np.ndarray | None,
    datatype: str,
) -> str:
    """The 200 answer: the requested outputs, flat and row-major, with their shapes.

    `id` is the client's id if it sent one, else this request's id; `parameters.request_id`
    is always the id feedback joins on (the native route's `request_id`).
    """
    rows = request.rows
    outputs: list[dict[str, Any]] = []
    for name in request.outputs or ():
        if name == PREDICTIONS:
            outputs.append({"name": name, "shape": [rows], "datatype": datatype, "data": labels})
        elif name == PROBABILITIES and probabilities is not None:
            outputs.append(
                {
                    "name": name,
                    "shape": list(probabilities.shape),
                    "datatype": "FP32",
                    # float32 as the model computed it: orjson writes the shortest float32 text.
                    "data": probabilities.reshape(-1),
                }
            )
    answer = {
        "model_name": model_name,
        "model_version": str(model_version),
        "id": request.id if request.id is not None else request_id,
        "parameters": {"request_id": request_id},
        "outputs": outputs,
    }
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def model_metadata(
    *,
    model_name: str,
    model_version: int,
    feature_schema: list[dict[str, Any]],
    schema: FeatureSchema,
    task: str,
    classes: list[Any],
) -> dict[str, Any]:
    """GET /v2/models/{model}: the serving version, its input tensors (one per feature, in the
    spec's order) and its outputs. `parameters` (an extension the protocol allows) says the
    task and, for classifiers, the class order of the probability columns as JSON text."""
    categorical = {field.name for field in schema.categorical}
    inputs = [
        {
            "name": feature["name"],
            "datatype": "BYTES" if feature["name"] in categorical else "FP32",
            "shape": [-1],
        }
        for feature in feature_schema
    ]
    outputs = [
        {"name": PREDICTIONS, "datatype": predictions_datatype(task, classes), "shape": [-1]}
    ]
    parameters: dict[str, Any] = {"task": task}
    if task == "classification":
        outputs.append({"name": PROBABILITIES, "datatype": "FP32", "shape": [-1, len(classes)]})
        parameters["classes"] = orjson.dumps(classes).decode()
    return {
        "name": model_name,
        "versions": [str(model_version)],
        "platform": PLATFORM,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": parameters,
    }
