"""Turning user-supplied YAML into BlueGreenRollouts, or into problems a human can act on.

Every problem names the file, the document, the field path and the offending value; nothing here
raises for bad input, because a traceback tells a user nothing about their manifest.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from controller.model.base import FieldProblem
from controller.model.crd import known_fields
from controller.model.resource import BlueGreenRollout
from controller.model.status import RolloutStatus

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    source: str
    document: int
    path: str
    message: str
    got: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.source}:{self.document}" if self.document else self.source
        got = "" if self.got is _MISSING else f" (got {render_value(self.got)})"
        path = f" {self.path}:" if self.path else ""
        return f"{where}{path} {self.message}{got}"


@dataclass(frozen=True)
class Loaded:
    source: str
    document: int
    rollout: BlueGreenRollout


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which PyYAML would otherwise silently overwrite."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def render_value(value: Any, limit: int = 80) -> str:
    """A short, unambiguous rendering of a user value for error messages."""
    if value is None:
        return "nothing"
    try:
        text = json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(loc: tuple[str | int, ...]) -> str:
    """``('spec', 'steps', 2, 'weight')`` → ``spec.steps[2].weight``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def parse_documents(text: str, source: str) -> tuple[list[Loaded], list[Problem]]:
    """Validate every YAML document in ``text``; empty documents are skipped, an empty input is a problem."""
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(source, 0, "", f"not valid YAML{where}: {detail}")]
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for index, document in enumerate(documents, start=1):
        if document is None:
            continue
        result = validate_document(document, source, index)
        if isinstance(result, Loaded):
            loaded.append(result)
        else:
            problems.extend(result)
    if not loaded and not problems:
        problems.append(Problem(source, 0, "", "contains no resources"))
    return loaded, problems


def validate_document(document: Any, source: str, index: int) -> Loaded | list[Problem]:
    if not isinstance(document, dict):
        return [
            Problem(
                source,
                index,
                "(document)",
                "expected a mapping with apiVersion, kind, metadata and spec",
                type(document).__name__,
            )
        ]
    try:
        rollout = BlueGreenRollout.model_validate({k: v for k, v in document.items() if k != "status"}, strict=True)
    except ValidationError as exc:
        return [_problem(error, source, index) for error in exc.errors()]
    if document.get("status") is None:
        return Loaded(source, index, rollout)
    try:  # the controller's status as `kubectl get -o yaml` prints it (timestamps as strings): lenient
        status = RolloutStatus.model_validate(document["status"])
    except ValidationError as exc:
        return [_problem(error, source, index, ("status",)) for error in exc.errors()]
    return Loaded(source, index, rollout.model_copy(update={"status": status}))


def _problem(error: ErrorDetails, source: str, index: int, prefix: tuple[str | int, ...] = ()) -> Problem:
    loc = prefix + tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblem):
        return Problem(source, index, format_path(loc + cause.path), cause.message, cause.got)
    kind = error["type"]
    value = error.get("input", _MISSING)
    if kind == "missing":
        return Problem(source, index, format_path(loc), "required field is missing")
    if kind == "extra_forbidden":
        return Problem(source, index, format_path(loc), _unknown_field_message(loc), value)
    message = _FRIENDLY.get(kind) or _lower_first(error["msg"]).replace("input should be", "must be")
    if kind == "string_type" and isinstance(value, float | int) and not isinstance(value, bool):
        message += "; quote it, YAML reads 3.10 as the number 3.1"
    if kind == "value_error":
        message = _lower_first(str(cause)) if cause else message
    return Problem(source, index, format_path(loc), message, value)


_FRIENDLY = {
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _unknown_field_message(loc: tuple[str | int, ...]) -> str:
    known = known_fields(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; known: {', '.join(known)}" if known else "")
    return f"unknown field{hint}"
