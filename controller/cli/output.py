"""Where and how the CLI prints: colour only on a terminal, ``-o json|yaml|name|wide`` like kubectl.

rich decides colour from the stream: none when it is not a TTY, when ``NO_COLOR`` is set or when
``TERM=dumb``. Off a terminal the width is unbounded, so a pipe gets whole lines, never wrapped tables.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import yaml
from rich.console import Console

from controller.model.resource import GROUP, SINGULAR

Json = dict[str, Any]
OBJECT_FORMATS = ("json", "yaml", "name")
LIST_FORMATS = (*OBJECT_FORMATS, "wide")
UNBOUNDED = 100_000


def console(stream: TextIO | None = None) -> Console:
    stream = stream or sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(file=stream, highlight=False, soft_wrap=not tty, width=None if tty else UNBOUNDED)


def live_capable(out: Console) -> bool:
    """A terminal that can redraw in place (not ``TERM=dumb``)."""
    return out.is_terminal and not out.is_dumb_terminal


def object_name(obj: Json) -> str:
    """``bluegreenrollout.greenlane.dev/checkout``, what ``kubectl get -o name`` prints."""
    return f"{SINGULAR}.{GROUP}/{(obj.get('metadata') or {}).get('name', '')}"


def format_objects(objects: list[Json], fmt: str, *, single: bool) -> str:
    """Objects as JSON, YAML or names; several are a ``v1 List`` as kubectl prints them."""
    if fmt == "name":
        return "\n".join(object_name(o) for o in objects)
    data: Any = objects[0] if single else {"apiVersion": "v1", "kind": "List", "items": objects}
    if fmt == "json":
        return json.dumps(data, indent=2)
    return yaml.safe_dump(data, sort_keys=False).rstrip("\n")
