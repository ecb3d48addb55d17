"""The event recorder's aggregation memory holds only what can still be aggregated (issue 15: churn soak).

Its entries (one per rollout, reason and message) were kept until 4,096 newer ones pushed them out: with
rollouts created and deleted all day, thousands of entries of rollouts long gone, none of which can ever be
folded into again once the aggregation window has passed.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from controller.clock import ManualClock
from controller.kube.events import AGGREGATE_WINDOW, EventRecorder, InvolvedObject


class FakeEvents:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.bumped: list[tuple[str, int]] = []

    def create_namespaced_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.created.append(body["metadata"]["name"])

    def patch_namespaced_event(self, name: str, namespace: str, patch: dict[str, Any]) -> None:
        self.bumped.append((name, patch["count"]))


def recorder(clock: ManualClock) -> tuple[EventRecorder, FakeEvents]:
    events = EventRecorder(k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")), clock)
    fake = FakeEvents()
    events._api = fake
    return events, fake


def rollout(n: int) -> InvolvedObject:
    return InvolvedObject("greenlane.dev/v1alpha1", "BlueGreenRollout", f"team-{n}", "checkout", uid=f"uid-{n}")


def test_entries_past_the_aggregation_window_are_dropped_as_new_events_come() -> None:
    clock = ManualClock()
    events, fake = recorder(clock)
    for n in range(300):  # a day of churn, compressed: each rollout says a few things and is deleted
        events.record(rollout(n), "Normal", "StepStarted", f"step 1 of rollout {n}")
        clock.advance(AGGREGATE_WINDOW / 100)
    assert len(events._recent) <= 101, "only the last aggregation window's entries are held"
    events.record(rollout(299), "Normal", "StepStarted", "step 1 of rollout 299")
    assert fake.bumped[-1][1] == 2, "an identical event within the window is still folded into the previous one"
    clock.advance(AGGREGATE_WINDOW)
    events.record(rollout(1000), "Normal", "StepStarted", "step 1 of rollout 1000")
    assert len(events._recent) == 1
