"""The README's field reference must keep up with the models."""

from __future__ import annotations

import re
from typing import Any

from controller.model.crd import openapi_schema
from tests.conftest import REPO


def _fields(node: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for name, prop in node.get("properties", {}).items():
        names.add(name)
        names |= _fields(prop)
        if isinstance(prop.get("items"), dict):
            names |= _fields(prop["items"])
    return names


def test_every_spec_field_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    reference = readme.split("### Field reference", 1)[1].split("\n## ", 1)[0]
    fields = _fields(openapi_schema()["properties"]["spec"])
    missing = sorted(f for f in fields if not re.search(rf"\b{re.escape(f)}\b", reference))
    assert not missing, f"README's field reference lacks: {missing}"
