"""Every malformed manifest of the corpus is refused with its expected message, never a traceback."""

from __future__ import annotations

import pytest

from controller.model.load import parse_documents
from controller.model.safe_yaml import PureLoader, YamlProblem, load_documents
from tests.security.corpus import CORPUS, Case


def test_the_corpus_is_large_and_unambiguous() -> None:
    assert len(CORPUS) >= 100
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_refused_with_its_message(case: Case) -> None:
    loaded, problems = parse_documents(case.text, "corpus.yaml")
    assert not loaded, f"{case.name} was accepted"
    messages = [str(p) for p in problems]
    assert any(case.expected in m for m in messages), f"{case.name}: {messages}"
    assert all(m.startswith("corpus.yaml") for m in messages)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.bounded], ids=lambda c: c.name)
def test_the_pure_python_parser_enforces_the_same_bounds(case: Case) -> None:
    """Without libyaml (a PyYAML built without it) the bounds and their messages are the same."""
    with pytest.raises(YamlProblem, match=case.expected.replace("*", r"\*")):
        load_documents(case.text, PureLoader)
