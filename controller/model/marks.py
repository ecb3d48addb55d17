"""Where a field sits in the YAML a human wrote: the line of ``spec.steps[1].weight`` in their file.

Validation errors carry a path into the parsed data; the composed YAML nodes still carry marks, so a
problem can point at the line to edit instead of at a document index.
"""

from __future__ import annotations

import yaml


def line_of(node: yaml.Node | None, path: tuple[str | int, ...]) -> int:
    """1-based line of the deepest node along ``path`` (the key itself for a mapping entry); 0 without a node.

    A missing field points at the mapping that lacks it, so the line is always one a user can open.
    """
    if node is None:
        return 0
    line = node.start_mark.line
    for part in path:
        child, key_line = _child(node, part)
        if child is None:
            break
        line = key_line if key_line is not None else child.start_mark.line
        node = child
    return line + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, int | None]:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value, key.start_mark.line
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], None
    return None, None


def item_nodes(node: yaml.Node | None, key: str) -> list[yaml.Node | None]:
    """The element nodes of the list under ``key`` (``items`` of a ``kind: List``)."""
    child, _ = _child(node, key) if node is not None else (None, None)
    return list(child.value) if isinstance(child, yaml.SequenceNode) else []
