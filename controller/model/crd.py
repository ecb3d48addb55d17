"""The CustomResourceDefinition, generated from the pydantic models so the two cannot disagree.

pydantic emits JSON Schema with ``$ref``/``$defs``, ``anyOf`` for optionals and ``title``s; Kubernetes
wants a *structural* OpenAPI v3 schema: every node typed, no references, no ``anyOf`` carrying types,
no ``additionalProperties: false``. This module rewrites the one into the other.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml

from controller.model.resource import (
    CATEGORIES,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    BlueGreenRollout,
)
from controller.model.spec import format_pause
from controller.model.status import RolloutStatus

_DROP = {"title", "additionalProperties_false"}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs"):
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "properties":
            out[key] = {name: _inline(prop, defs) for name, prop in value.items()}
        else:
            out[key] = _inline(value, defs)
    return _structural(out)


def _structural(node: dict[str, Any]) -> dict[str, Any]:
    """Collapse ``anyOf: [X, {type: null}]`` (pydantic's Optional) into X and drop a ``null`` default."""
    options = node.get("anyOf")
    if options is not None:
        non_null = [o for o in options if o.get("type") != "null"]
        if len(non_null) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**non_null[0], **rest}
    if node.get("default", 0) is None:
        del node["default"]
    default = node.get("default")
    if node.get("type") == "string" and isinstance(default, float):
        node["default"] = format_pause(default)  # durations are seconds in Python, strings on the wire
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        node["x-kubernetes-preserve-unknown-fields"] = True
    return node


@cache
def openapi_schema() -> dict[str, Any]:
    """Structural openAPIV3Schema of the whole resource."""
    raw = BlueGreenRollout.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    metadata = schema["properties"]["metadata"]
    schema["properties"]["metadata"] = {"type": "object"}
    del metadata
    schema["properties"]["status"]["description"] = "Written by the controller; all progress lives here."
    schema["properties"]["status"]["properties"].update(_computed_status_fields())
    schema["description"] = (
        "BlueGreenRollout moves traffic from a blue Deployment to a green one in weighted steps, "
        "judging green against blue from Prometheus."
    )
    return schema


def _computed_status_fields() -> dict[str, Any]:
    """Fields the status model computes (``stepNumber``): written with every status, so the schema must keep them."""
    serialized = RolloutStatus.model_json_schema(by_alias=True, mode="serialization")["properties"]
    out: dict[str, Any] = {}
    for name, field in RolloutStatus.model_computed_fields.items():
        alias = field.alias or name
        out[alias] = {k: v for k, v in serialized[alias].items() if k not in ("title", "readOnly")}
    return out


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Step", "type": "integer", "jsonPath": ".status.stepNumber"},
    {"name": "Green %", "type": "integer", "jsonPath": ".status.weight"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object for ``bluegreenrollouts.greenlane.dev``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "greenlane", "app.kubernetes.io/part-of": "greenlane"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The CRD as YAML, exactly as committed under ``config/crd/``."""
    header = "# Generated by `greenlane crd` from controller/model; do not edit by hand.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=120)


def known_fields(path: tuple[str | int, ...]) -> list[str]:
    """Field names allowed at ``path`` in the resource, for 'did you mean' hints."""
    node: dict[str, Any] = openapi_schema()
    for part in path:
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
    return sorted(node.get("properties", {}))
