"""Broken variants of a valid sample, each with the field path and value the error must name.

Shared by the CLI tests and the CRD schema tests so both judge the same manifests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from tests.conftest import REPO

Manifest = dict[str, Any]


def sample() -> Manifest:
    text = (REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text()
    loaded: Manifest = yaml.safe_load(text)
    return loaded


@dataclass(frozen=True)
class Broken:
    name: str
    mutate: Callable[[Manifest], None]
    path: str
    value: str
    openapi_catches: bool  # False where only a CEL rule (or nothing in OpenAPI) can say it


def _set(path: list[str | int], value: Any) -> Callable[[Manifest], None]:
    def mutate(doc: Manifest) -> None:
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _rename(path: list[str | int], old: str, new: str) -> Callable[[Manifest], None]:
    def mutate(doc: Manifest) -> None:
        node: Any = doc
        for part in path:
            node = node[part]
        node[new] = node.pop(old)

    return mutate


def _drop_thresholds(doc: Manifest) -> None:
    doc["spec"]["analysis"]["checks"][1] = {"name": "errors", "template": "error-rate"}


def _two_routers(doc: Manifest) -> None:
    doc["spec"]["trafficRouting"]["istio"] = {"virtualService": "checkout"}


BROKEN: list[Broken] = [
    Broken("weight-150", _set(["spec", "steps", 1, "weight"], 150), "spec.steps[1].weight", "150", True),
    Broken("decreasing", _set(["spec", "steps", 2, "weight"], 3), "spec.steps[2].weight", "3", False),
    Broken("last-not-100", _set(["spec", "steps", 3, "weight"], 90), "spec.steps[3].weight", "90", False),
    Broken("two-routers", _two_routers, "spec.trafficRouting", '"istio"', False),
    Broken(
        "unknown-template",
        _set(["spec", "analysis", "checks", 0, "template"], "latncy"),
        "spec.analysis.checks[0].template",
        '"latncy"',
        True,
    ),
    Broken("no-thresholds", _drop_thresholds, "spec.analysis.checks[1]", '"error-rate"', False),
    Broken("stpes", _rename(["spec"], "steps", "stpes"), "spec.stpes", '"weight"', True),
    Broken(
        "duration-words",
        _set(["spec", "analysis", "interval"], "5 minutes"),
        "spec.analysis.interval",
        '"5 minutes"',
        True,
    ),
    Broken("upper-case", _set(["spec", "blue", "deployment"], "Checkout"), "spec.blue.deployment", '"Checkout"', True),
    Broken("list-not-mapping", _set(["spec", "blue"], ["checkout"]), "spec.blue", '["checkout"]', True),
    Broken(
        "slope-units",
        _set(["spec", "analysis", "checks", 2, "maxSlopeOverBlue"], "50MB per hour"),
        "spec.analysis.checks[2].maxSlopeOverBlue",
        '"50MB per hour"',
        True,
    ),
    Broken(
        "duplicate-check",
        _set(["spec", "analysis", "checks", 1, "name"], "p99-latency"),
        "spec.analysis.checks[1].name",
        '"p99-latency"',
        False,
    ),
    Broken(
        "unknown-variable",
        _set(["spec", "analysis", "checks", 4, "query"], "sum(up{pod=~'{{ pod }}'})"),
        "spec.analysis.checks[4].query",
        "{{ pod }}",
        True,
    ),
    Broken(
        "python-as-float",
        _set(["spec", "green", "expectPython"], 3.12),
        "spec.green.expectPython",
        "3.12",
        True,
    ),
]


def broken_manifest(case: Broken) -> Manifest:
    doc = copy.deepcopy(sample())
    case.mutate(doc)
    return doc
