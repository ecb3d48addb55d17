"""Just enough PromQL to regroup the builtin templates: parse, transform, render, and evaluate what is left.

The batched source (:mod:`controller.analysis.batch`) turns a per-track template such as
``sum(increase(x{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}]))`` into one query for many
tracks. It needs the template's structure, not a full PromQL implementation, so this module covers the
subset the templates use: selectors (kept as text), function calls, aggregations with ``by``, numbers,
strings, ``{{ placeholders }}``, and the binary operators ``or``, ``/`` and ``*``. Anything else fails to
parse with :class:`Unsupported`, and the caller then simply sends that template's queries unbatched.

Binary operators and ``vector()`` are evaluated client-side (:func:`evaluate`) with PromQL's semantics
for the cases that occur: one-to-one matching on all labels but the metric name, ``or`` keeping the left
side's label sets, IEEE division (``x/0`` is ±Inf or NaN, as Prometheus answers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from controller.analysis.source import Series

AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count", "group"})
_TOKEN = re.compile(
    r"\s*(?:(?P<ph>\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})|(?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)|(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<op>[(),/*])|(?P<open>[{\[]))"
)


class Unsupported(ValueError):
    """The expression uses PromQL this module does not handle; batch it not, query it as it is."""


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: str | None = None
    range: str | None = None


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Aggregation:
    op: str
    by: tuple[str, ...] | None
    arg: Node


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node


Node = Num | Str | Selector | Call | Aggregation | Binary


# ---- parsing --------------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise Unsupported(f"cannot read PromQL at {text[at : at + 20]!r}")
        kind = match.lastgroup
        if kind == "open":
            end = _closing(text, match.end() - 1)
            out.append(("sel" if text[match.end() - 1] == "{" else "range", text[match.end() : end]))
            at = end + 1
            continue
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def _closing(text: str, start: int) -> int:
    """Index of the bracket closing ``text[start]``, skipping string literals (and the placeholders in them)."""
    close = "}" if text[start] == "{" else "]"
    at, quoted = start + 1, False
    while at < len(text):
        char = text[at]
        if quoted and char == "\\":
            at += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == close and not quoted:
            return at
        at += 1
    raise Unsupported(f"unclosed {text[start]!r}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise Unsupported(f"expected {value or kind}, found {token}")
        self.at += 1
        return token[1]

    def expression(self) -> Node:
        node = self.product()
        while self.peek() == ("ident", "or"):
            self.take()
            node = Binary("or", node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in "/*":
            self.take()
            node = Binary(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        kind, value = self.peek() or ("", "")
        if (kind, value) == ("op", "("):
            self.take()
            node = self.expression()
            self.take("op", ")")
            return node
        if kind in ("num", "ph"):
            return Num(self.take())
        if kind == "str":
            return Str(self.take()[1:-1])
        if kind == "ident" and value not in ("or", "by", "without"):
            return self.call_or_selector(self.take())
        raise Unsupported(f"unexpected {value!r}")

    def call_or_selector(self, name: str) -> Node:
        by = self.by_clause() if name in AGGREGATIONS else None
        if self.peek() == ("op", "("):
            args = self.arguments()
            if name in AGGREGATIONS:
                if by is None:
                    by = self.by_clause()
                if len(args) != 1:
                    raise Unsupported(f"{name} with parameters")
                return Aggregation(name, by, args[0])
            return Call(name, args)
        matchers = self.take() if (self.peek() or ("",))[0] == "sel" else None
        window = self.take() if (self.peek() or ("",))[0] == "range" else None
        return Selector(name, matchers, window)

    def by_clause(self) -> tuple[str, ...] | None:
        if self.peek() == ("ident", "without"):
            raise Unsupported("aggregation without(...)")
        if self.peek() != ("ident", "by"):
            return None
        self.take()
        self.take("op", "(")
        labels: list[str] = []
        while self.peek() != ("op", ")"):
            labels.append(self.take("ident"))
            if self.peek() == ("op", ","):
                self.take()
        self.take("op", ")")
        return tuple(labels)

    def arguments(self) -> tuple[Node, ...]:
        self.take("op", "(")
        args: list[Node] = []
        while self.peek() != ("op", ")"):
            args.append(self.expression())
            if self.peek() == ("op", ","):
                self.take()
        self.take("op", ")")
        return tuple(args)


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise Unsupported(f"unexpected {parser.peek()}")
    return node


# ---- rendering and walking -----------------------------------------------------------------------
def render(node: Node) -> str:
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Str):
        return f'"{node.value}"'
    if isinstance(node, Selector):
        return (
            node.metric
            + (f"{{{node.matchers}}}" if node.matchers is not None else "")
            + (f"[{node.range}]" if node.range is not None else "")
        )
    if isinstance(node, Call):
        return f"{node.name}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, Aggregation):
        by = f" by ({', '.join(node.by)})" if node.by else ""
        return f"{node.op}{by} ({render(node.arg)})"
    return f"({render(node.lhs)}) {node.op} ({render(node.rhs)})"


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Aggregation):
        return (node.arg,)
    if isinstance(node, Binary):
        return (node.lhs, node.rhs)
    return ()


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in children(node):
        yield from walk(child)


def is_client_side(node: Node) -> bool:
    """Operators evaluated here rather than by Prometheus: binary operators and ``vector(scalar)``."""
    return isinstance(node, Binary) or (isinstance(node, Call) and node.name == "vector")


def leaves(node: Node) -> list[Node]:
    """The maximal subtrees Prometheus evaluates, left to right (numbers inside ``vector()`` excluded)."""
    if isinstance(node, Binary):
        return leaves(node.lhs) + leaves(node.rhs)
    if is_client_side(node) or isinstance(node, Num | Str):
        return []
    return [node]


def transform(node: Node, change: Callable[[Node], Node | None]) -> Node:
    """``change`` applied top-down: a node it replaces is not descended into."""
    changed = change(node)
    if changed is not None:
        return changed
    if isinstance(node, Call):
        return replace(node, args=tuple(transform(a, change) for a in node.args))
    if isinstance(node, Aggregation):
        return replace(node, arg=transform(node.arg, change))
    if isinstance(node, Binary):
        return replace(node, lhs=transform(node.lhs, change), rhs=transform(node.rhs, change))
    return node


# ---- client-side evaluation ----------------------------------------------------------------------
Value = list[Series]
Times = tuple[float, ...]


def evaluate(node: Node, values: Mapping[int, Value], times: Times) -> Value:
    """Evaluate the client-side operators of ``node`` over its leaves' answers (``values[id(leaf)]``).

    ``times`` are the evaluation timestamps: one for an instant query, every step of a range query.
    """
    if isinstance(node, Binary):
        lhs, rhs = evaluate(node.lhs, values, times), evaluate(node.rhs, values, times)
        return _union(lhs, rhs) if node.op == "or" else _arithmetic(node.op, lhs, rhs)
    if isinstance(node, Call) and node.name == "vector":
        (arg,) = node.args
        if not isinstance(arg, Num):
            raise Unsupported("vector() of an expression")
        value = float(arg.text)
        return [Series({}, tuple((t, value) for t in times))]
    return values[id(node)]


def _signature(series: Series) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in series.labels.items() if k != "__name__")


def _union(lhs: Value, rhs: Value) -> Value:
    """``lhs or rhs`` at each timestamp: the right side only where the left has no series with its labels."""
    taken: dict[frozenset[tuple[str, str]], set[float]] = {}
    for series in lhs:
        taken.setdefault(_signature(series), set()).update(t for t, _ in series.points)
    out = list(lhs)
    for series in rhs:
        blocked = taken.get(_signature(series), set())
        points = tuple(p for p in series.points if p[0] not in blocked)
        if points:
            out.append(Series(series.labels, points))
    return out


def _arithmetic(op: str, lhs: Value, rhs: Value) -> Value:
    """One-to-one matching on all labels but the name; the result keeps the left side's labels, nameless."""
    right = {_signature(s): dict(s.points) for s in rhs}
    out: Value = []
    for series in lhs:
        other = right.get(_signature(series))
        if other is None:
            continue
        points = tuple((t, _apply(op, v, other[t])) for t, v in series.points if t in other)
        if points:
            out.append(Series({k: v for k, v in series.labels.items() if k != "__name__"}, points))
    return out


def _apply(op: str, a: float, b: float) -> float:
    if op == "*":
        return a * b
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b
