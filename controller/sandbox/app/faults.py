"""Fault knobs: what makes green misbehave, and when.

Faults are configured up front but only bite once active: after ``fault_after_s`` seconds, or when
the orchestrator activates them (typically as the first traffic step starts), so the demo can show
a healthy start and a regression that appears under traffic, as in real migrations.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

KNOBS = (
    "error_rate",
    "extra_latency_ms",
    "memory_leak_mb_per_min",
    "startup_memory_mb",
    "db_leak_per_min",
    "fault_after_s",
)


@dataclass(frozen=True)
class FaultSettings:
    """All knobs; zero means off. ``fault_after_s`` None means: wait for an explicit activation."""

    error_rate: float = 0.0
    extra_latency_ms: float = 0.0
    memory_leak_mb_per_min: float = 0.0
    startup_memory_mb: float = 0.0
    db_leak_per_min: float = 0.0
    fault_after_s: float | None = None

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FaultSettings:
        """Strict parse: an unknown key or a bad value is a 400, not a silently ignored fault."""
        unknown = set(values) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown fault knob(s) {sorted(unknown)}; known: {', '.join(KNOBS)}")
        parsed: dict[str, float | None] = {}
        for f in fields(cls):
            if f.name in values:
                raw = values[f.name]
                parsed[f.name] = None if raw is None and f.name == "fault_after_s" else float(raw)
        settings = cls(**parsed)  # type: ignore[arg-type]
        if not 0.0 <= settings.error_rate <= 1.0:
            raise ValueError("error_rate must be within 0..1")
        if any(v is not None and v < 0 for v in asdict(settings).values()):
            raise ValueError("fault knobs must not be negative")
        return settings

    @classmethod
    def from_pairs(cls, pairs: list[str]) -> FaultSettings:
        """``["error_rate=0.2", ...]`` as given on the command line."""
        values: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"fault {pair!r} is not KEY=VALUE")
            values[key.strip()] = value.strip()
        return cls.from_mapping(values)


class FaultState:
    """Thread-safe current settings plus activation time, shared by handlers and the chaos ticker."""

    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._active_from: float | None = None
        self.configure(settings)

    def configure(self, settings: FaultSettings) -> None:
        """Replace all knobs; the activation clock restarts from now."""
        with self._lock:
            self._settings = settings
            delay = settings.fault_after_s
            self._active_from = None if delay is None else time.time() + delay

    def activate(self) -> float:
        """Activate now unless already active; returns the unix time faults became active."""
        with self._lock:
            now = time.time()
            if self._active_from is None or self._active_from > now:
                self._active_from = now
            return self._active_from

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def active(self) -> FaultSettings | None:
        """The settings if they bite right now, else None."""
        with self._lock:
            if self._active_from is not None and time.time() >= self._active_from:
                return self._settings
            return None

    def snapshot(self) -> dict[str, Any]:
        """What GET /admin/faults reports: knobs, whether active, and since when (unix seconds)."""
        with self._lock:
            active_from = self._active_from
            settings = asdict(self._settings)
        return {
            "settings": settings,
            "active": active_from is not None and time.time() >= active_from,
            "active_from": active_from,
        }
