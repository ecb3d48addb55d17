"""The local platform under ``greenlane demo`` and the end-to-end tests.

Real Prometheus, HAProxy, PostgreSQL with postgres_exporter, and the demo app on two interpreters,
all as child processes on loopback. Start with :class:`Sandbox`.
"""

from controller.sandbox.app.faults import KNOBS as FAULT_KNOBS
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.errors import MissingDependencyError, SandboxError, SandboxProcessError
from controller.sandbox.loadgen import LoadGenerator, LoadStats
from controller.sandbox.sandbox import Sandbox, SandboxConfig, TrackInfo

__all__ = [
    "FAULT_KNOBS",
    "FaultSettings",
    "LoadGenerator",
    "LoadStats",
    "MissingDependencyError",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxProcessError",
    "TrackInfo",
]
