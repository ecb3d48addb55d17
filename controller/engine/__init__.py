"""The one reconcile loop shared by the operator, the demo and the tests (see :mod:`controller.engine.engine`)."""

from controller.engine.engine import Engine
from controller.engine.world import NotLeader, Outcome, RolloutView, World

__all__ = ["Engine", "NotLeader", "Outcome", "RolloutView", "World"]
