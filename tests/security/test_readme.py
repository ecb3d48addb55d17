"""The README's Security model names, for each attack, the test that replays it: those tests must exist."""

from __future__ import annotations

import re

from tests.conftest import REPO
from tests.security.test_validate_attacks import ATTACKS


def _section() -> str:
    return (REPO / "README.md").read_text().split("## Security model\n", 1)[1].split("\n## ", 1)[0]


def test_every_test_the_security_model_names_exists() -> None:
    section = _section()
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)", section)
    assert len(named) >= 5
    current = ""
    for path, function in named:
        current = path
        assert re.search(rf"^def {function}\(", (REPO / path).read_text(), re.MULTILINE), f"{path}::{function}"
    for function in re.findall(r"`::(\w+)`", section):  # shorthand: same file as the row's first reference
        files = [p for p, _ in named] + [current]
        assert any(re.search(rf"^def {function}\(", (REPO / p).read_text(), re.MULTILINE) for p in files), function


def test_every_replayed_attack_id_exists() -> None:
    ids = set(re.findall(r"\[([\w-]+)\]`", _section()))
    assert ids and ids <= set(ATTACKS), sorted(ids - set(ATTACKS))
