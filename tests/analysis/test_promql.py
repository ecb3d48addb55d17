"""Safe rendering: only validated values reach PromQL, and a track's regex never matches the other track."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.analysis.promql import (
    UnsafeValue,
    default_pods_regex,
    format_window,
    pods_regex,
    render,
    string_literal_body,
)

LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
HASH = st.from_regex(r"[bcdfghjklmnpqrstvwxz2456789]{6,10}", fullmatch=True)
SUFFIX = st.from_regex(r"[bcdfghjklmnpqrstvwxz2456789]{5}", fullmatch=True)


@given(blue=LABEL, extra=LABEL, hash_=HASH, suffix=SUFFIX)
def test_blue_regex_never_matches_pods_of_a_longer_named_deployment(
    blue: str, extra: str, hash_: str, suffix: str
) -> None:
    green_pod = f"{blue}-{extra}-{hash_}-{suffix}"
    assert re.fullmatch(default_pods_regex(blue), f"{blue}-{hash_}-{suffix}")
    assert not re.fullmatch(default_pods_regex(blue), green_pod)
    assert re.fullmatch(default_pods_regex(f"{blue}-{extra}"), green_pod)


def test_pod_template_hash_form() -> None:
    regex = default_pods_regex("checkout", "7d9f8c6b5")
    assert regex == "checkout-7d9f8c6b5-[a-z0-9]{5}"
    assert not re.fullmatch(regex, "checkout-5c8d7f9b6-abcde")


@pytest.mark.parametrize("bad", ["Checkout", "check.out", 'x"}', "a" * 64, ""])
def test_names_must_be_dns_labels(bad: str) -> None:
    with pytest.raises(UnsafeValue):
        default_pods_regex(bad)


@pytest.mark.parametrize("bad", ["(", ".*", ".+|x", "", "caf\u00e9", "a\nb"])
def test_caller_regexes_are_checked(bad: str) -> None:
    with pytest.raises(UnsafeValue):
        pods_regex(bad)


def test_regexes_are_escaped_for_promql_strings() -> None:
    assert string_literal_body(r'a\.b"c') == r"a\\.b\"c"
    assert render('x{pod=~"{{ pods }}"}', {"pods": string_literal_body(r"a\d")}) == r'x{pod=~"a\\d"}'


def test_unknown_variable_is_an_error() -> None:
    with pytest.raises(UnsafeValue, match="unknown template variable"):
        render("{{ nope }}", {"pods": "x"})


def test_windows_are_whole_seconds() -> None:
    assert format_window(300) == "300s"
    assert format_window(0.4) == "1s"
    with pytest.raises(UnsafeValue):
        format_window(0)
