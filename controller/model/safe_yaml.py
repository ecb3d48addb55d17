"""YAML from users, read with bounded time and memory, or refused with the line that broke a bound.

PyYAML shares the node of an anchor among its aliases, so a 342-byte "billion laughs" document composes
instantly and explodes later, in whatever walks the result (validation, JSON, error messages); merge
keys (``<<: [*a, *a]``) copy whole mappings and explode inside PyYAML itself; deep nesting exhausts the
recursion limit of every recursive step. This loader measures each node as it is composed — how many
nodes it stands for once aliases and merges are expanded, and how deep it reaches — and stops at the
first node that crosses ``MAX_NODES`` or ``MAX_DEPTH``, so the work done before refusing is bounded by
the bounds themselves, whatever the input. Recursive aliases, duplicate keys and unhashable keys are
refused; merge keys work as in every other Kubernetes tool.

Where PyYAML has its C extension (libyaml), events come from C and only composition runs in Python:
about five times faster on large documents, same results.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from controller.model.limits import MAX_DEPTH, MAX_INPUT_BYTES, MAX_NODES, MAX_OBJECT_BYTES

_MERGE_TAG = "tag:yaml.org,2002:merge"
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)


class YamlProblem(Exception):
    """Input refused before or while parsing, with the line (and column) that broke a rule when known."""


class _LimitExceeded(yaml.MarkedYAMLError):
    """A bound crossed while composing; a YAMLError so PyYAML's own cleanup runs as for a syntax error."""


def _limit(problem: str, event: Any) -> _LimitExceeded:
    return _LimitExceeded(None, None, problem, event.start_mark)


class _BoundedComposer(Composer):
    """Composer that measures every node's expanded size and height as it completes."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._events = 0
        self._open: set[str] = set()
        self._measured: dict[int, tuple[int, int]] = {}

    def compose_document(self) -> Node | None:
        self._events, self._measured = 0, {}
        node = super().compose_document()
        self._measured = {}
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open:
            raise _limit(f"alias *{event.anchor} refers to a node that contains it", event)
        if self._depth >= MAX_DEPTH:
            raise _limit(f"nested deeper than {MAX_DEPTH} levels", event)
        anchor = None if isinstance(event, yaml.AliasEvent) else event.anchor
        if anchor is not None:
            self._open.add(anchor)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor or "")
        if node is not None:
            self._check(node, event)
        return node

    def _check(self, node: Node, event: Any) -> None:
        self._events += 1
        size, height = self._measure(node)
        if size > MAX_NODES or self._events > MAX_NODES:
            raise _limit(f"expands to more than {MAX_NODES} values (aliases, merge keys or size)", event)
        if self._depth + height > MAX_DEPTH:
            raise _limit(f"nested deeper than {MAX_DEPTH} levels through an alias", event)

    def _measure(self, node: Node) -> tuple[int, int]:
        known = self._measured.get(id(node))
        if known is not None:
            return known
        if isinstance(node, MappingNode):
            children: list[Node] = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            children = []
        measures = [self._measure(child) for child in children]  # children are complete, hence memoised
        result = (1 + sum(s for s, _ in measures), 1 + max((h for _, h in measures), default=0))
        self._measured[id(node)] = result
        return result


class _StrictConstructor(SafeConstructor):
    """SafeConstructor that refuses duplicate and unhashable keys and never raises anything but YAMLError."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:  # timestamps like 2024-13-45, 5000-digit ints
            raise ConstructorError(None, None, f"cannot read this value: {exc}", node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # merged keys may be overridden by explicit ones: that is merging
                key: Any = (_MERGE_TAG,)
            else:
                key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise ConstructorError(None, None, "a mapping or list cannot be a key", key_node.start_mark)
            if key in seen:
                shown = "<<" if key == (_MERGE_TAG,) else repr(key)
                raise ConstructorError(None, None, f"duplicate key {shown}", key_node.start_mark)
            seen.add(key)
        constructed: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return constructed


class PureLoader(Reader, Scanner, Parser, _BoundedComposer, _StrictConstructor, Resolver):
    """The bounded loader on PyYAML's pure-Python scanner and parser."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _StrictConstructor.__init__(self)
        Resolver.__init__(self)


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    BoundedLoader: type = PureLoader
else:

    class CLoader(_BoundedComposer, CParser, _StrictConstructor, Resolver):
        """The bounded loader on libyaml's events (Composer first in the MRO: our composition, C parsing)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)

    BoundedLoader = CLoader


def check_sizes(text: str) -> None:
    """Refuse input the API server would refuse before parsing it: a whole input over MAX_INPUT_BYTES, or
    one document over MAX_OBJECT_BYTES (documents split at ``---``/``...`` lines, which YAML forbids inside
    content, so a document is never larger than its chunk)."""
    size = len(text.encode(errors="surrogatepass"))
    if size > MAX_INPUT_BYTES:
        raise YamlProblem(f"input is {_mib(size)}; greenlane reads at most {_mib(MAX_INPUT_BYTES)} at once")
    starts = [0, *(m.start() for m in _DOCUMENT_MARKER.finditer(text)), len(text)]
    for begin, end in itertools.pairwise(starts):
        chunk = len(text[begin:end].encode(errors="surrogatepass"))
        if chunk > MAX_OBJECT_BYTES:
            line = text.count("\n", 0, begin) + 1
            raise YamlProblem(
                f"the document starting at line {line} is {_mib(chunk)}; Kubernetes stores objects of at most "
                f"{_mib(MAX_OBJECT_BYTES)} (etcd's request limit)"
            )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def load_documents(text: str, loader: type = BoundedLoader) -> list[Any]:
    """Every document of ``text``, bounded; raises YamlProblem naming the line that broke a rule."""
    return [data for _, data in compose_documents(text, loader)]


def compose_documents(text: str, loader: type = BoundedLoader) -> list[tuple[Node | None, Any]]:
    """(node, data) per document, bounded: the node keeps the line marks that error messages point at."""
    check_sizes(text)
    try:
        return _compose(text, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "refused" if isinstance(exc, _LimitExceeded) else "not valid YAML"
        raise YamlProblem(f"{what}{where}: {exc.problem or exc.context or 'invalid YAML'}") from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlProblem(f"not valid YAML at line {line}: character #x{exc.character:04x} is not allowed") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from None


def _compose(text: str, loader_type: type) -> list[tuple[Node | None, Any]]:
    loader = loader_type(text)
    try:
        out: list[tuple[Node | None, Any]] = []
        while loader.check_node():
            node = loader.get_node()
            out.append((node, loader.construct_document(node)))
        return out
    finally:
        loader.dispose()
