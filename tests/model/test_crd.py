"""The generated CRD: committed copy in sync, structural, and as strict as ``greenlane validate``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.model.crd import crd, crd_yaml, openapi_schema
from tests.model.apiserver import cel_errors, openapi_errors, rejections, walk
from tests.model.broken import BROKEN, Broken, broken_manifest

CRD_FILE = Path(__file__).resolve().parents[2] / "config" / "crd" / "bluegreenrollouts.greenlane.dev.yaml"


def test_committed_crd_matches_models() -> None:
    assert CRD_FILE.read_text() == crd_yaml(), "config/crd is stale: run `make crd` and commit the result"


def test_schema_is_structural() -> None:
    """Every node typed; no references, junctors carrying types, or additionalProperties: false."""
    for path, node in walk(openapi_schema()):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for forbidden in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title"):
            assert forbidden not in node, f"{path} uses {forbidden}"
        assert node.get("additionalProperties", True) is not False, f"{path} sets additionalProperties: false"


def test_crd_shape() -> None:
    doc = crd()
    version = doc["spec"]["versions"][0]
    assert doc["metadata"]["name"] == "bluegreenrollouts.greenlane.dev"
    assert doc["spec"]["names"]["shortNames"] == ["bgr"]
    assert "greenlane" in doc["spec"]["names"]["categories"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:3] == ["Phase", "Step", "Green %"] and "Age" in columns


def test_samples_pass_openapi_and_cel(samples: list[Path]) -> None:
    for path in samples:
        for doc in yaml.safe_load_all(path.read_text()):
            errors = rejections(doc)
            assert not errors, f"{path.name}: {errors}"


@pytest.mark.parametrize("case", [c for c in BROKEN if c.openapi_catches], ids=lambda c: c.name)
def test_openapi_rejects_what_it_can_express(case: Broken) -> None:
    errors = openapi_errors(broken_manifest(case))
    assert errors, f"the CRD schema accepts {case.name}"


@pytest.mark.parametrize("case", [c for c in BROKEN if not c.openapi_catches], ids=lambda c: c.name)
def test_cel_rules_reject_cross_field_mistakes(case: Broken) -> None:
    doc = broken_manifest(case)
    assert not openapi_errors(doc), "expected only CEL to catch this"
    errors = cel_errors(openapi_schema(), doc)
    assert errors, f"no CEL rule rejects {case.name}"
