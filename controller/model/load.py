"""Turning user-supplied YAML into BlueGreenRollouts, or into problems a human can act on.

Every problem names the file, the document, the field path and the offending value (or the line, for
input that is not a manifest at all); nothing here raises for bad input, because a traceback tells a
user nothing about their manifest. Parsing is bounded (``safe_yaml``): sizes, nesting and alias
expansion are refused at the line that crosses a bound, in well under a second.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from controller.model.base import FieldProblem
from controller.model.crd import known_fields
from controller.model.resource import BlueGreenRollout
from controller.model.safe_yaml import YamlProblem, load_documents

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
    """``('spec', 'steps', 2, 'weight')`` → ``spec.steps[2].weight``; an odd key is quoted: ``headers["X Y"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_][-A-Za-z0-9_.]*", str(part)):
            out += f"[{json.dumps(str(part))}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_documents(text: str, source: str) -> tuple[list[Loaded], list[Problem]]:
    """Validate every YAML document in ``text``; empty documents are skipped, an empty input is a problem."""
    try:
        documents = load_documents(text)
    except YamlProblem as exc:
        return [], [Problem(source, 0, "", str(exc))]
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
        rollout = BlueGreenRollout.model_validate(document, strict=True)
    except ValidationError as exc:
        return [_problem(error, source, index) for error in exc.errors()]
    return Loaded(source, index, rollout)


def _problem(error: ErrorDetails, source: str, index: int) -> Problem:
    loc = tuple(error["loc"])
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
