"""The exact form of the command annotation, shared by the admission policy and anything that reads it.

The CLI writes ``greenlane.dev/command`` as compact JSON with a fixed key order
(``json.dumps({"id", "command", "user", "at"}, separators=(",", ":"))``). Kubernetes CEL cannot decode
JSON, so the chart's ValidatingAdmissionPolicy checks the whole value against this regex and then reads
``user`` by position; the regex is what makes that reading exact: ``id`` is hex and ``command`` a fixed word,
so the first ``"user":"`` is the key, and ``user`` holds no ``"`` or ``\\``, so the first ``","at":"`` after
it ends the value — a second ``"user"`` key, an escaped quote or trailing text cannot match.

A username with ``"``, ``\\``, control characters (or, with ``json.dumps``' default ``ensure_ascii``, any
non-ASCII character, written as ``\\uXXXX``) cannot be recorded this way: such users cannot send commands
while the policy is installed. Kubernetes usernames from certificates, OIDC and ServiceAccounts are plain
ASCII in practice.
"""

from __future__ import annotations

import re

ANNOTATION = "greenlane.dev/command"
KINDS: tuple[str, ...] = ("promote", "abort", "retry", "pause", "resume", "promote-full")
MAX_LENGTH = 1024
"""No well-formed command is longer; the operator ignores (never parses) anything longer."""
_RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
PATTERN = (
    r'^\{"id":"[0-9a-f]{12}","command":"(' + "|".join(KINDS) + r')","user":"[^"\\\x00-\x1f]{1,512}",'
    r'"at":"' + _RFC3339 + r'"\}$'
)
"""The whole annotation value; RE2 (the API server) and Python's ``re`` read it alike."""
USER_START = '"user":"'
USER_END = '","at":"'


def well_formed(raw: str) -> bool:
    """True when ``raw`` is a command exactly as the CLI writes it (the policy's first rule)."""
    return len(raw) <= MAX_LENGTH and re.fullmatch(PATTERN, raw) is not None


def recorded_user(raw: str) -> str | None:
    """The ``user`` of a well-formed command, read by position as the admission policy reads it."""
    if not well_formed(raw):
        return None
    start = raw.index(USER_START) + len(USER_START)
    return raw[start : raw.index(USER_END)]
