"""Property test of the loader and validator: whatever the input, an answer, in bounded time and memory.

For every generated input ``parse_documents`` returns (never raises), spends under ``CPU_LIMIT`` seconds
and allocates under ``MEMORY_LIMIT`` (tracemalloc's peak, in this process), and every problem names a
field path or a line. Four generators: YAML built from hostile tokens, structured anchor/alias/merge
graphs of random fan-out (bombs of every size, most under the bound, some over), the valid sample with
random values at random places, and plain text.

Runs in seconds in ``make test``. A longer run: ``make fuzz`` (``GREENLANE_FUZZ_EXAMPLES=20000``, random
seeds instead of the fixed derandomised ones).
"""

from __future__ import annotations

import copy
import os
import re
import time
import tracemalloc
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.model.load import Problem, parse_documents
from tests.model.broken import sample

EXAMPLES = int(os.environ.get("GREENLANE_FUZZ_EXAMPLES", "150"))
CPU_LIMIT = 1.0  # seconds, the bound for a hostile document
MEMORY_LIMIT = 100 * 2**20  # bytes, the bound
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="GREENLANE_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WHOLE_INPUT = {"contains no resources"}


def judged(text: str) -> list[Problem]:
    """Parse and validate ``text`` under a CPU clock and tracemalloc; assert the bounds and the messages."""
    tracemalloc.start()
    started = time.process_time()
    try:
        loaded, problems = parse_documents(text, "fuzz.yaml")
        cpu = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cpu < CPU_LIMIT, f"{cpu:.2f} s of CPU for {text[:200]!r}"
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB for {text[:200]!r}"
    for problem in problems:
        names_something = problem.path or re.search(r"\bline \d+", problem.message)
        assert names_something or problem.message in WHOLE_INPUT, f"names no field or line: {problem}"
    assert loaded or problems
    return problems


TOKENS = st.sampled_from(
    [
        "a",
        "spec",
        "steps",
        ":",
        ": ",
        " ",
        "  ",
        "\n",
        "\t",
        "- ",
        "-",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "<<: ",
        "? ",
        "!!str ",
        "!!binary ",
        "!!python/object ",
        "!x ",
        "'",
        '"',
        "\\",
        "#",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "0",
        "1.5",
        ".nan",
        ".inf",
        "-.inf",
        "2024-13-45",
        "9" * 30,
        "~",
        "null",
        "yes",
        "|\n",
        ">-\n",
        "\x00",
        "\ufeff",
        "\u200b",
        "é",
    ]
)


@FUZZ
@given(st.lists(TOKENS, max_size=200).map("".join))
def test_hostile_token_soup(text: str) -> None:
    judged(text)


@st.composite
def alias_graphs(draw: st.DrawFn) -> str:
    """Anchored lists and mappings built from earlier anchors: every bomb shape, small and large."""
    lines = ["n0: &n0 [x, y]"]
    fanout = draw(st.integers(1, 6))
    for i in range(1, draw(st.integers(2, 14))):
        refs = [i - 1] * fanout + draw(st.lists(st.integers(0, i - 1), max_size=4))
        aliases = ", ".join(f"*n{r}" for r in refs)
        if draw(st.booleans()):
            lines.append(f"n{i}: &n{i} [{aliases}]")
        else:
            lines.append(f"m{i}: &m{i} {{k{i}: 1}}")
            merged = ", ".join(f"*m{r}" for r in refs if f"&m{r} " in "\n".join(lines)) or f"*m{i}"
            lines.append(f"n{i}: &n{i} {{<<: [{merged}], v{i}: [{aliases}]}}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(alias_graphs())
def test_alias_and_merge_graphs(text: str) -> None:
    problems = judged(text)
    bounded = [p for p in problems if "expands to more than" in p.message or "nested deeper" in p.message]
    assert bounded or all(p.path for p in problems), problems  # either refused by a bound, or parsed


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


PATHS = _paths(sample())


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set ``path`` to ``value`` when the path still exists (an earlier change may have replaced a parent)."""
    node = doc
    for part in path[:-1]:
        node = _child(node, part)
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), JSON), min_size=1, max_size=4))
def test_the_sample_with_random_values(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc: Any = copy.deepcopy(sample())
    for path, value in changes:
        _put(doc, path, value)
    judged(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(st.text(max_size=500))
def test_plain_text(text: str) -> None:
    judged(text)
