"""The one small seam every traffic router implements.

Weights are green's share in percent (0..100); blue gets the rest. Routers translate that to their
own scale (HAProxy 0..256, Gateway API relative integers, replica counts) and back, so the core only
ever reasons in percent.
"""

from __future__ import annotations

from typing import Protocol


class RouterError(Exception):
    """The router object is missing, malformed or not ours; the message names the object and field.

    ``transient`` errors (the router did not answer) hold the rollout and are retried; the others are spec
    problems that make the rollout ``Invalid``.
    """

    @property
    def transient(self) -> bool:
        return False


class RouterUnreachable(RouterError):
    """No answer from the router (connection refused, timeout): retried, never a spec problem."""

    @property
    def transient(self) -> bool:
        return True


class WeightMismatch(RouterError):
    """Read-back after a write did not show the weight we wrote (someone else edits the object)."""


class Router(Protocol):
    """Reads and writes green's effective traffic share."""

    def describe(self) -> str:
        """Human-readable name of the object being steered, e.g. ``HTTPRoute shop/checkout rule main``."""
        ...

    def get_weight(self) -> int:
        """Green's effective share in percent, read from the live object."""
        ...

    def set_weight(self, green: int) -> int:
        """Write green's share, read it back and return the effective value.

        Raises WeightMismatch when the read-back differs from what was written.
        """
        ...
