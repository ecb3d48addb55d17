"""Turning user-supplied YAML into BlueGreenRollouts, or into problems a human can act on.

Every problem names the file, the line, the field path and the offending value (or the line, for input
that is not a manifest at all); nothing here raises for bad input, because a traceback tells a user
nothing about their manifest. Parsing is bounded (``safe_yaml``): sizes, nesting and alias expansion are
refused at the line that crosses a bound, in well under a second.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from controller.model.base import FieldProblem
from controller.model.crd import known_fields
from controller.model.marks import item_nodes, line_of
from controller.model.resource import BlueGreenRollout
from controller.model.safe_yaml import YamlProblem, compose_documents
from controller.model.status import RolloutStatus

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    source: str
    document: int
    path: str
    message: str
    got: Any = _MISSING
    line: int = 0
    """1-based line in ``source`` of the field (or document) at fault; 0 when not from a file."""

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        got = "" if self.got is _MISSING else f" (got {render_value(self.got)})"
        path = f" {self.path}:" if self.path else ""
        return f"{where}{path} {self.message}{got}"


@dataclass(frozen=True)
class Loaded:
    source: str
    document: int
    rollout: BlueGreenRollout
    line: int = 0


@dataclass(frozen=True)
class Skipped:
    """A document of another kind (a Deployment beside the rollout): noted, not judged."""

    source: str
    line: int
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line} skipped {self.kind} {self.name} (not a BlueGreenRollout)".replace("  ", " ")


@dataclass
class Parsed:
    loaded: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


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
    """Validate every BlueGreenRollout in ``text``; see :func:`parse_manifests` (other kinds are dropped)."""
    parsed = parse_manifests(text, source)
    return parsed.loaded, parsed.problems


def parse_manifests(text: str, source: str) -> Parsed:
    """Every YAML document in ``text``: rollouts validated, other kinds skipped, problems with their line.

    Empty documents are skipped; an input with no document at all is a problem. ``kind: List`` (what
    ``kubectl get -o yaml`` prints) is read item by item.
    """
    try:
        documents = compose_documents(text)
    except YamlProblem as exc:  # the message names the line and column that broke a rule or a bound
        return Parsed(problems=[Problem(source, 0, "", str(exc))])
    parsed = Parsed()
    for index, (node, document) in enumerate(documents, start=1):
        if document is None:
            continue
        _add(parsed, document, node, source, index)
    if not parsed.loaded and not parsed.problems and not parsed.skipped:
        parsed.problems.append(Problem(source, 0, "", "contains no resources"))
    return parsed


def _add(parsed: Parsed, document: Any, node: yaml.Node | None, source: str, index: int) -> None:
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind == "List" and isinstance(document.get("items"), list):
        for item, item_node in zip(document["items"], item_nodes(node, "items"), strict=False):
            _add(parsed, item, item_node, source, index)
        return
    api_version = str(document.get("apiVersion") or "") if isinstance(document, dict) else ""
    if isinstance(kind, str) and kind != "BlueGreenRollout" and not api_version.startswith("greenlane.dev/"):
        name = (document.get("metadata") or {}).get("name", "") if isinstance(document.get("metadata"), dict) else ""
        parsed.skipped.append(Skipped(source, line_of(node, ()), kind, str(name)))
        return
    result = validate_document(document, source, index, node)
    if isinstance(result, Loaded):
        parsed.loaded.append(result)
    else:
        parsed.problems.extend(result)


def validate_document(document: Any, source: str, index: int, node: yaml.Node | None = None) -> Loaded | list[Problem]:
    """One document as a rollout; with its YAML ``node``, every problem knows its line."""
    if not isinstance(document, dict):
        return [
            Problem(
                source,
                index,
                "(document)",
                "expected a mapping with apiVersion, kind, metadata and spec",
                type(document).__name__,
                line=line_of(node, ()),
            )
        ]
    try:
        rollout = BlueGreenRollout.model_validate({k: v for k, v in document.items() if k != "status"}, strict=True)
    except ValidationError as exc:
        return [_located(_problem(error, source, index), error, node) for error in exc.errors()]
    line = line_of(node, ())
    if document.get("status") is None:
        return Loaded(source, index, rollout, line)
    try:  # the controller's status as `kubectl get -o yaml` prints it (timestamps as strings): lenient
        status = RolloutStatus.model_validate(document["status"])
    except ValidationError as exc:
        return [
            _located(_problem(error, source, index, ("status",)), error, node, ("status",)) for error in exc.errors()
        ]
    return Loaded(source, index, rollout.model_copy(update={"status": status}), line)


def _located(
    problem: Problem, error: ErrorDetails, node: yaml.Node | None, prefix: tuple[str | int, ...] = ()
) -> Problem:
    cause = (error.get("ctx") or {}).get("error")
    loc = prefix + tuple(error["loc"]) + (cause.path if isinstance(cause, FieldProblem) else ())
    return replace(problem, line=line_of(node, loc))


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
