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


MERGED = """
apiVersion: greenlane.dev/v1alpha1
kind: BlueGreenRollout
metadata: {name: checkout, namespace: shop}
spec:
  blue:  {deployment: checkout, service: checkout-blue}
  green: {deployment: checkout-py312, service: checkout-green}
  trafficRouting: {gatewayAPI: {httpRoute: checkout}}
  steps: [{weight: 50, pause: 5m}, {weight: 100}]
  analysis:
    checks:
      - &latency {name: latency, template: latency, window: 5m, minRequests: 100, maxRatioToBlue: 1.1}
      - <<: *latency
        name: errors
        template: error-rate
        window: 10m
"""


def test_merge_keys_work_and_explicit_keys_win() -> None:
    """``<<:`` is common in manifests (and was refused): merged keys apply, explicit ones override them."""
    (loaded,), problems = parse_documents(MERGED, "merged.yaml")
    assert problems == []
    latency, errors = loaded.rollout.spec.analysis.checks
    assert (errors.name, errors.template, errors.window, errors.min_requests) == ("errors", "error-rate", 600, 100)
    assert errors.max_ratio_to_blue == latency.max_ratio_to_blue == 1.1


def test_the_operator_never_parses_an_oversized_command_annotation() -> None:
    """A tenant's 256 KiB of '[' once made json.loads raise RecursionError in every reconcile."""
    from controller.kube.rollouts import COMMAND_ANNOTATION, CommandRequest

    obj = {"metadata": {"annotations": {COMMAND_ANNOTATION: "[" * (256 * 1024 - 32)}}}
    assert CommandRequest.from_object(obj) is None
