"""Errors of the local sandbox.

They carry the remedy in the message because the first reader is usually a newcomer running
``greenlane demo`` on a fresh machine, not someone who can read a traceback.
"""

from __future__ import annotations

INSTALL_HINT = "run `sudo scripts/install-system-deps.sh` (Debian/Ubuntu) from the greenlane checkout"


class SandboxError(Exception):
    """Something in the local sandbox could not be started, reached or stopped."""


class MissingDependencyError(SandboxError):
    """A server binary or Python interpreter the sandbox needs is not installed."""


class SandboxProcessError(SandboxError):
    """A child process exited or never became ready; the message ends with the tail of its log."""
