"""Safe substitution of ``{{ variables }}`` into PromQL, and the exact pod regex of a track.

Nothing from a manifest or command line is pasted into a query raw: names must be DNS-1123 labels,
regexes must compile and are escaped for a PromQL string literal, windows are whole seconds. A value
that cannot be made safe raises ``UnsafeValue`` naming the variable, so the caller can report it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from controller.model.base import DNS1123_LABEL, DNS1123_LABEL_MAX

VARIABLE_RE = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
POD_SUFFIX = "-[a-z0-9]{6,10}-[a-z0-9]{5}"
"""A Deployment's pods are ``<deployment>-<pod-template-hash>-<5 random>``; the hash is 6-10 characters."""
_REGEX_META = re.compile(r"([.^$*+?()\[\]{}|\\])")
_MAX_REGEX = 1024
_UNRELATED_PODS = ("a", "unrelated-7d9f8c6b5-x2x4z")


class UnsafeValue(ValueError):
    """A value that may not be substituted into PromQL."""


def dns_label(value: str, what: str) -> str:
    if len(value) > DNS1123_LABEL_MAX or not re.fullmatch(DNS1123_LABEL, value):
        raise UnsafeValue(f"{what} {value!r} is not a DNS-1123 label")
    return value


def regex_escape(literal: str) -> str:
    """RE2-safe escape of a literal (``re.escape`` also escapes characters RE2 rejects escaped, like ``-``)."""
    return _REGEX_META.sub(r"\\\1", literal)


def default_pods_regex(deployment: str, pod_template_hash: str | None = None) -> str:
    """Exact pods of one Deployment, never those of a Deployment whose name merely starts the same.

    ``checkout`` gives ``checkout-[a-z0-9]{6,10}-[a-z0-9]{5}``, which cannot match ``checkout-py312-…``
    pods because ``py312`` is too short for a hash and the hash cannot contain ``-``. With the current
    ReplicaSet's hash (what the operator passes) only that ReplicaSet's pods match.
    """
    name = regex_escape(dns_label(deployment, "deployment"))
    if pod_template_hash is None:
        return name + POD_SUFFIX
    return f"{name}-{regex_escape(dns_label(pod_template_hash, 'pod-template-hash'))}-[a-z0-9]{{5}}"


def pods_regex(value: str) -> str:
    """Validate a caller-supplied pod regex (anchored by PromQL); refuse ones that would match anything."""
    if not value or len(value) > _MAX_REGEX or not value.isascii() or not value.isprintable():
        raise UnsafeValue(f"pod regex {value!r} must be 1-{_MAX_REGEX} printable ASCII characters")
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise UnsafeValue(f"pod regex {value!r} does not compile: {exc}") from None
    if compiled.fullmatch("") is not None or all(compiled.fullmatch(probe) for probe in _UNRELATED_PODS):
        raise UnsafeValue(f"pod regex {value!r} matches (nearly) every pod; select one track's pods")
    return value


def string_literal_body(value: str) -> str:
    """Escape a value for the inside of a double-quoted PromQL string (Go string escapes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_window(seconds: float) -> str:
    """A PromQL duration in whole seconds (``300s``); at least 1s."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise UnsafeValue(f"window must be a positive duration, got {seconds}")
    return f"{max(1, round(seconds))}s"


def variables(query: str) -> set[str]:
    return set(VARIABLE_RE.findall(query))


def render(query: str, values: Mapping[str, str]) -> str:
    """Substitute already-validated values; an unknown variable is an error, never left in the query."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise UnsafeValue(f"unknown template variable {{{{ {name} }}}}; known: {', '.join(sorted(values))}")
        return values[name]

    return VARIABLE_RE.sub(substitute, query)
