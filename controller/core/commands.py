"""Human control commands (promote, abort, retry, pause, resume), each applied exactly once.

Commands carry an id (the CLI writes a fresh one each time). The status records the id of the last
applied command; the caller passes the commands it knows of, oldest first, and every command up to and
including the recorded id is skipped. A command that makes no sense in the current phase is still
consumed, with a ``CommandIgnored`` event saying why, so it cannot fire by surprise later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

CommandKind = Literal["promote", "promote-full", "abort", "retry", "pause", "resume", "invalid"]
COMMAND_KINDS: tuple[str, ...] = ("promote", "promote-full", "abort", "retry", "pause", "resume")
"""What a human may ask for; ``invalid`` stands for an annotation the caller could not parse."""


@dataclass(frozen=True)
class Command:
    id: str
    kind: CommandKind
    by: str = ""  # who asked, for the audit trail in events and messages
    problem: str = ""  # for kind ``invalid``: why the annotation was not understood

    @property
    def who(self) -> str:
        """``alice (3f2a9c…)`` when the user is known, else just the id."""
        return f"{self.by} ({self.id})" if self.by else self.id

    @property
    def by_suffix(self) -> str:
        return f" by {self.by}" if self.by else ""


def unapplied(commands: Sequence[Command], last_applied: str | None) -> list[Command]:
    """The commands after the last applied one; all of them when that id is unknown (or none was applied)."""
    ids = [c.id for c in commands]
    if last_applied is None or last_applied not in ids:
        return list(commands)
    last_index = len(ids) - 1 - ids[::-1].index(last_applied)
    return list(commands[last_index + 1 :])
