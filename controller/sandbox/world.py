"""The sandbox rollout's world: HAProxy for traffic, the sandbox's processes for tracks, its Prometheus.

Status lives in memory (there is no API server); everything else is real, and the same engine that runs
the operator runs the demo through this World.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from controller.analysis import PrometheusSource, SourceUnavailable, evaluate_rollout, python_versions
from controller.clock import Clock
from controller.core.actions import EmitEvent
from controller.core.commands import Command
from controller.core.observations import TrackObservation
from controller.core.results import CheckResult
from controller.engine.world import RolloutView, Side
from controller.model.spec import RolloutSpec, Track
from controller.model.status import AppliedRouting, RolloutStatus
from controller.routing.base import Router
from controller.sandbox.sandbox import Sandbox

TEMPLATE_HASH = "sandbox"  # the sandbox never changes a pod template mid-demo
ROLLOUT_NAME = "checkout"


class SandboxWorld:
    """``World`` for ``greenlane demo``: one rollout whose status is kept by the demo."""

    def __init__(
        self,
        sandbox: Sandbox,
        spec: RolloutSpec,
        source: PrometheusSource,
        router: Router,
        *,
        clock: Clock,
        on_event: Callable[[EmitEvent, RolloutStatus], None],
        on_evaluation: Callable[[RolloutStatus, Sequence[CheckResult], datetime], None],
    ) -> None:
        self.sandbox, self.spec, self.source, self.clock = sandbox, spec, source, clock
        self.status = RolloutStatus()
        self.commands: list[Command] = []
        self._router = router
        self._on_event, self._on_evaluation = on_event, on_evaluation

    def read_rollout(self) -> RolloutView | None:
        return RolloutView(
            namespace=self.sandbox.config.namespace,
            name=ROLLOUT_NAME,
            status=self.status,
            spec=self.spec,
            commands=tuple(self.commands),
        )

    def router(self, routing: AppliedRouting) -> Router:
        return self._router

    def observe_track(self, side: Side, track: Track) -> TrackObservation:
        return TrackObservation(True, 1, 1, TEMPLATE_HASH)

    def python_versions(self, side: Side, track: Track, seen: TrackObservation) -> Mapping[str, str] | None:
        info = self.sandbox.blue if side == "blue" else self.sandbox.green
        try:
            return python_versions(self.source, self.sandbox.config.namespace, info.pod, self.clock.now().timestamp())
        except SourceUnavailable:
            return None

    def clock_skew(self) -> float | None:
        try:
            return self.source.clock_skew()
        except SourceUnavailable:
            return None

    def expect_evaluation(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> None:
        return None  # one rollout, queried directly: nothing to batch

    def evaluate(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> Sequence[CheckResult]:
        # The operator's judging path: evidence windows, warm-up, budget and blue's baseline from the status.
        results = evaluate_rollout(
            spec,
            status,
            self.source,
            namespace=self.sandbox.config.namespace,
            now=at,
            blue_pods=self.sandbox.blue.pod,
            green_pods=self.sandbox.green.pod,
        )
        self._on_evaluation(self.status, results, at)
        return results

    def write_status(self, status: RolloutStatus) -> None:
        self.status = status

    def set_finalizer(self, present: bool) -> None:
        return None  # nothing deletes the sandbox rollout while the demo runs

    def scale(self, deployment: str, replicas: int) -> None:
        return None  # blue's process stays up until the sandbox stops

    def emit(self, event: EmitEvent, status: RolloutStatus) -> None:
        self._on_event(event, status)
