"""The one reconcile loop: observe, decide, persist intent, act with read-back, persist the outcome.

The operator (``greenlane run``), the demo sandbox and the tests all call :meth:`Engine.reconcile` with
their own :class:`~controller.engine.world.World`; ``controller.core.decide`` is called from here only.

Ordering is the safety argument:

1. The decision's status is written *before* any traffic action. It records the weight about to be
   written as ``targetWeight`` (and a rollback as ``status.rollback``), so after a failed write or a crash
   the next reconcile converges on the recorded target, and a rollback can never be "corrected" back.
2. If that write fails, nothing is acted on: the reconcile fails visibly and is retried with backoff.
3. Weights are written through the router, which reads them back; a second decision with the read-back
   weight confirms the step in the same reconcile and is persisted too.
4. Events go out after the status that explains them is stored; they are best-effort.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from controller.clock import Clock
from controller.core.actions import Decision, EmitEvent, ScaleTrack, SetWeight
from controller.core.decide import decide, reject
from controller.core.edits import routing_in_effect
from controller.core.failure import record_failure
from controller.core.observations import Observations
from controller.core.preflight import python_versions_needed
from controller.core.schedule import evaluation_due, next_evaluation_at
from controller.core.skew import skew_problem
from controller.engine.world import NotLeader, Outcome, RolloutView, World
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from controller.routing.base import Router, RouterError

log = structlog.get_logger("greenlane.engine")

CONFIRM_ROUNDS = 3
"""Read-backs per reconcile: a restart goes to 0% and, once that reads back, to step 1's weight."""
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
"""Failing reconciles are retried after 1, 2, 4 … seconds, never more than 5 minutes apart (with jitter)."""


def transient(exc: RouterError) -> bool:
    """Router errors that may go away on their own (API server busy, 5xx, no answer) versus spec problems."""
    return bool(exc.transient)


@dataclass
class Engine:
    clock: Clock
    on_outcome: Callable[[RolloutView, Outcome], None] = lambda view, outcome: None
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0))
    _failures: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reconcile(self, world: World) -> Outcome:
        """One reconcile of one rollout; never raises except :class:`NotLeader`."""
        try:
            view = world.read_rollout()
        except NotLeader:
            raise
        except Exception as exc:  # cannot even read the rollout: nothing to record it in
            log.warning("reading the rollout failed", error=_describe(exc))
            return Outcome(None, self._backoff("?"), error=_describe(exc))
        if view is None:
            self._forget(None)
            return Outcome(None, None, gone=True)
        with structlog.contextvars.bound_contextvars(
            rollout=view.name, namespace=view.namespace, step=view.status.current_step + 1, weight=view.status.weight
        ):
            run = _Run(self, world, view)
            try:
                outcome = run.run()
                self._forget(view.key)
            except NotLeader:
                raise
            except Exception as exc:
                outcome = self._failed(run, exc)
        self.on_outcome(view, outcome)
        return outcome

    def _failed(self, run: _Run, exc: Exception) -> Outcome:
        """Record the failure on top of what this reconcile already persisted (never on the stale read)."""
        error, view = _describe(exc), run.view
        log.error("reconcile failed", error=error, exc_info=not _expected(exc))
        decision = record_failure(view.spec, run.persisted, error, self.clock.now())
        event = EmitEvent("Warning", "ReconcileFailed", f"Reconcile failed, retrying with backoff: {error}")
        wait = self._backoff(view.key)
        try:
            run.commit(decision, None)  # a pause or rollback after maxHold; may fail again, that is fine
        except NotLeader:
            raise
        except Exception as again:
            log.warning("recording the failure failed too", error=_describe(again))
        _best_effort_emit(run.world, event, run.persisted)
        return Outcome(run.persisted, wait, error=error, events=(event,), at=self.clock.now())

    def _backoff(self, key: str) -> float:
        with self._lock:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        return float(min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(failures - 1, 16)) * self.jitter())

    def _forget(self, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            self._failures.pop(key, None)

    def forget(self, key: str) -> None:
        """A deleted rollout: drop its failure count (nothing per rollout may outlive the rollout)."""
        self._forget(key)


class _Run:
    """The state of one reconcile: the status as persisted so far and what was done."""

    def __init__(self, engine: Engine, world: World, view: RolloutView) -> None:
        self.engine, self.world, self.view = engine, world, view
        self.persisted: RolloutStatus = view.status
        self.written: list[int] = []
        self.events: list[EmitEvent] = []
        self.released = False

    def run(self) -> Outcome:
        view, now = self.view, self.engine.clock.now()
        if view.spec is None:
            decision = reject(view.status, view.problem, now, view.deletion)
            self.commit(decision, None)
            return self._outcome(decision, now)
        spec = view.spec
        if view.deletion is None and not view.has_finalizer:
            self.world.set_finalizer(True)  # before any traffic moves, so a delete cannot strand it
        router, weight, problem = self._router(spec)
        if problem is not None:
            decision = reject(view.status, problem, now, view.deletion)
            self.commit(decision, None)
            return self._outcome(decision, now)
        observations = self._observe(spec, view.status, weight, now)
        decision = decide(spec, view.status, observations, view.commands, now)
        wrote = self.commit(decision, router)
        for _ in range(CONFIRM_ROUNDS):
            if not wrote or router is None:
                break
            decision, observations, wrote = self._confirm(spec, decision, observations, router)
        self._forecast(spec, observations)
        return self._outcome(decision, now)

    def _forecast(self, spec: RolloutSpec, observations: Observations) -> None:
        """Tell the world when the next evaluation is due, as the status now persisted will judge it.

        Best-effort: a forecast decides nothing, so its failure is logged and the reconcile goes on.
        """
        due = next_evaluation_at(spec, self.persisted)
        if due is None:
            return
        try:
            self.world.expect_evaluation(spec, self.persisted, due, (observations.blue, observations.green))
        except Exception as exc:
            log.warning("forecasting the next evaluation failed", error=_describe(exc))

    def _router(self, spec: RolloutSpec) -> tuple[Router | None, int | None, str | None]:
        """The router in effect and green's weight on it; a problem naming the field when it is unusable.

        An unreadable router (transient) still gets the writes the core asks for: a rollback keeps
        writing 0% even while reads fail, and the weight is believed only once it reads back.
        """
        routing = routing_in_effect(spec, self.view.status)
        router: Router | None = None
        try:
            router = self.world.router(routing)
            return router, router.get_weight(), None
        except RouterError as exc:
            if transient(exc):
                log.warning("router unavailable", error=str(exc))
                return router, None, None
            return None, None, f"spec.trafficRouting.{routing.traffic_routing.kind}: {exc}"

    def _observe(self, spec: RolloutSpec, status: RolloutStatus, weight: int | None, now: datetime) -> Observations:
        blue = self.world.observe_track("blue", spec.blue)
        green = self.world.observe_track("green", spec.green)
        if python_versions_needed(spec, status, green.template_hash, self.view.commands):
            blue = replace(blue, python_versions=self.world.python_versions("blue", spec.blue, blue))
            green = replace(green, python_versions=self.world.python_versions("green", spec.green, green))
        results, skew = None, None
        if evaluation_due(spec, status, now):
            skew = self.world.clock_skew()
            if skew_problem(skew) is None:
                results = tuple(self.world.evaluate(spec, status, now, (blue, green)))
        return Observations(weight, blue, green, results, skew, self.view.deletion)

    def _confirm(
        self, spec: RolloutSpec, decision: Decision, observations: Observations, router: Router
    ) -> tuple[Decision, Observations, bool]:
        """Read the router back and let the core confirm the weight now, rather than on the next poll."""
        weight = _read_weight(router)
        if weight is None or weight == observations.router_weight:
            return decision, observations, False
        again = replace(observations, router_weight=weight, results=None, clock_skew=None)
        second = decide(spec, decision.status, again, self.view.commands, self.engine.clock.now())
        return second, again, self.commit(second, router)

    def commit(self, decision: Decision, router: Router | None) -> bool:
        """Persist, then act, then tell; True when a weight was written."""
        status = decision.status
        if self.view.generation is not None:
            status = status.model_copy(update={"observed_generation": self.view.generation})
        if status != self.persisted:
            self.world.write_status(status)  # intent before action: raises, and nothing below runs
            self.persisted = status
        wrote = self._act(decision, router)
        for event in decision.events:
            _best_effort_emit(self.world, event, status)
            self.events.append(event)
        if decision.release_finalizer:
            self.world.set_finalizer(False)
            self.released = True
        return wrote

    def _act(self, decision: Decision, router: Router | None) -> bool:
        wrote = False
        for action in decision.actions:
            if isinstance(action, SetWeight):
                if router is None:
                    continue  # unreadable router: the recorded target is written once it answers
                try:
                    router.set_weight(action.green)
                    self.written.append(action.green)
                    wrote = True
                except RouterError as exc:  # recorded as target; the next reconcile writes it again
                    log.warning("weight not set", green=action.green, error=str(exc))
            elif isinstance(action, ScaleTrack):
                spec = self.view.spec
                assert spec is not None
                self.world.scale(getattr(spec, action.track).deployment, action.replicas)
        return wrote

    def _outcome(self, decision: Decision, now: datetime) -> Outcome:
        return Outcome(
            status=self.persisted,
            requeue_after=decision.requeue_after,
            released=self.released,
            weights_written=tuple(self.written),
            events=tuple(self.events),
            at=now,
        )


def _read_weight(router: Router | None) -> int | None:
    if router is None:
        return None
    try:
        return router.get_weight()
    except RouterError as exc:
        log.warning("router weight unreadable", error=str(exc))
        return None


def _best_effort_emit(world: World, event: EmitEvent, status: RolloutStatus) -> None:
    try:
        world.emit(event, status)
    except NotLeader:
        raise
    except Exception as exc:
        log.warning("event not recorded", reason=event.reason, error=_describe(exc))


def _expected(exc: BaseException) -> bool:
    """Failures of the world (a router, the network, an HTTP error): no traceback needed to understand them."""
    return isinstance(exc, RouterError | OSError | TimeoutError) or isinstance(getattr(exc, "status", None), int)


def _describe(exc: BaseException) -> str:
    """One line: ``HTTP 500 InternalError: etcd timeout`` for API errors, the message otherwise."""
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if isinstance(status, int) and status > 0:
        message = ""
        try:
            body = json.loads(getattr(exc, "body", None) or "{}")
            message = str(body.get("message", "")) if isinstance(body, dict) else ""
        except (TypeError, ValueError):
            pass
        text = f"HTTP {status} {reason or ''}: {message}".strip().rstrip(":")
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"
