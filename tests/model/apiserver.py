"""What the Kubernetes API server would say about an object, without an API server.

Two halves, as the API server validates a custom resource:

- OpenAPI: the CRD schema through jsonschema, with unknown fields as errors (kubectl's strict field
  validation) and ``pattern`` matched by RE2, the engine the API server uses (Go's regexp), not Python's
  ``re`` (whose ``$`` also matches before a trailing newline).
- CEL: every ``x-kubernetes-validations`` rule through cel-python, with the Kubernetes CEL libraries our
  rules and the admission policy use (``isSorted``, ``split``, ``lowerAscii``, ``indexOf``, ``substring``),
  a ``duration()`` as strict as cel-go's (no ``d`` unit, int64 nanoseconds) — cel-python's own accepts
  ``1d`` and would hide a rule that breaks on a real cluster — and cel-go's ``x != null`` (cel-python
  errors on a map). An evaluation error rejects, as it does there.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import cache
from typing import Any

import celpy
import jsonschema
import re2
from celpy import celtypes
from celpy.evaluation import CELEvalError, bool_ne

from controller.model.crd import openapi_schema

Json = dict[str, Any]


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: Json) -> Iterator[jsonschema.ValidationError]:
    if isinstance(instance, str) and re2.search(pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _re2_pattern}
)


def walk(node: Any, path: str = "$") -> list[tuple[str, Json]]:
    if not isinstance(node, dict):
        return []
    found = [(path, node)]
    for name, prop in node.get("properties", {}).items():
        found += walk(prop, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += walk(node["additionalProperties"], f"{path}{{}}")
    return found


def strict(schema: Json) -> Json:
    """Emulate server-side strict field validation (kubectl's default): unknown spec fields are errors."""
    out = copy.deepcopy(schema)
    for path, node in walk(out):
        if "properties" in node and path != "$.metadata" and not path.startswith("$.status"):
            node["additionalProperties"] = False
    return out


@cache
def validator() -> Any:
    return Validator(strict(openapi_schema()))


def openapi_errors(doc: Json) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(doc)]


# --- CEL with the Kubernetes libraries -------------------------------------------------------------------


def _is_sorted(values: celtypes.ListType) -> celtypes.BoolType:
    plain = [int(str(v)) for v in values]  # weights: the only list isSorted() is used on
    return celtypes.BoolType(plain == sorted(plain))


def _split(text: celtypes.StringType, separator: celtypes.StringType) -> celtypes.ListType:
    return celtypes.ListType([celtypes.StringType(part) for part in str(text).split(str(separator))])


def _lower_ascii(text: celtypes.StringType) -> celtypes.StringType:
    return celtypes.StringType("".join(c.lower() if "A" <= c <= "Z" else c for c in str(text)))


def _index_of(text: celtypes.StringType, part: celtypes.StringType) -> celtypes.IntType:
    return celtypes.IntType(str(text).find(str(part)))


def _substring(text: celtypes.StringType, start: celtypes.IntType, end: celtypes.IntType | None = None) -> Any:
    value, first = str(text), int(start)
    last = len(value) if end is None else int(end)
    if not 0 <= first <= last <= len(value):
        raise ValueError(f"substring({first}, {last}) out of range for a string of {len(value)} characters")
    return celtypes.StringType(value[first:last])


_GO_UNITS = {"ns": Fraction(1), "us": Fraction(1000), "µs": Fraction(1000), "ms": Fraction(10**6)}
_GO_UNITS |= {"s": Fraction(10**9), "m": Fraction(60 * 10**9), "h": Fraction(3600 * 10**9)}
_GO_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_INT64 = 2**63 - 1


def _duration(text: Any) -> celtypes.DurationType:
    """cel-go's ``duration(string)``: Go's time.ParseDuration, int64 nanoseconds."""
    if isinstance(text, celtypes.DurationType):
        return text
    value = str(text)
    body = value.lstrip("+-")
    if body == "0":
        return celtypes.DurationType(0)
    parts = _GO_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body or any(n in ("", ".") for n, _ in parts):
        raise ValueError(f"invalid duration {value!r}")
    nanos = sum(Fraction(n) * _GO_UNITS[u] for n, u in parts)
    if nanos > _INT64:
        raise ValueError(f"duration {value!r} overflows")
    micros = int(nanos / 1000) * (-1 if value.startswith("-") else 1)
    return celtypes.DurationType(datetime.timedelta(microseconds=micros))


def _not_equal(left: Any, right: Any) -> Any:
    """cel-go's heterogeneous equality: ``oldObject != null`` is true for an object (cel-python errors)."""
    if left is None or right is None:
        return celtypes.BoolType((left is None) != (right is None))
    return bool_ne(left, right)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_!=_": _not_equal,
    "isSorted": _is_sorted,
    "split": _split,
    "lowerAscii": _lower_ascii,
    "indexOf": _index_of,
    "substring": _substring,
    "duration": _duration,
}
_ENV = celpy.Environment()


@cache
def program(expression: str) -> Any:
    return _ENV.program(_ENV.compile(expression), functions=FUNCTIONS)


def evaluate(expression: str, activation: dict[str, Any]) -> Any:
    """The value of a CEL expression; raises celpy.CELEvalError where the API server reports an error."""
    return program(expression).evaluate(activation)


def holds(expression: str, activation: dict[str, Any]) -> bool:
    """True when the rule holds; False when it fails *or errors* (both reject, as on a real cluster)."""
    try:
        return bool(evaluate(expression, activation))
    except (CELEvalError, ValueError, TypeError):
        return False


def cel_errors(schema: Json, value: Any, path: str = "$") -> list[str]:
    """Every x-kubernetes-validations rule where its node is present, like the API server."""
    errors: list[str] = []
    for rule in schema.get("x-kubernetes-validations", []):
        if not holds(rule["rule"], {"self": celpy.adapter.json_to_cel(value)}):
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name in value:
                errors += cel_errors(prop, value[name], f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, item in value.items():
                errors += cel_errors(extra, item, f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += cel_errors(schema["items"], item, f"{path}[{i}]")
    return errors


def rejections(doc: Json) -> list[str]:
    """Everything the API server would refuse in ``doc``: OpenAPI first, then CEL (empty when accepted)."""
    return openapi_errors(doc) + cel_errors(openapi_schema(), doc)
