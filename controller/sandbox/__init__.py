"""The local platform under ``greenlane demo`` and the end-to-end tests.

Real Prometheus, HAProxy, PostgreSQL with postgres_exporter, and the demo app on two interpreters,
all as child processes on loopback. Start with :class:`Sandbox`::

    with Sandbox(SandboxConfig(green_faults=FaultSettings(error_rate=0.2))) as sb:
        router = sb.router()            # HaproxyRouter on the sandbox's admin socket
        router.set_weight(25)
        started = sb.activate_faults()  # faults without fault_after_s wait for this
        ...                             # judge sb.prometheus_url, read sb.load.stats()

Servers come from ``scripts/install-system-deps.sh`` (Debian packages); interpreters from an explicit
path, PATH or pyenv. Tests: ``pytest tests/sandbox tests/routing/test_haproxy.py``.
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
