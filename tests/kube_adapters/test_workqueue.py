"""The work queue's contract: one worker per key, earliest schedule wins, re-adds while busy run once more."""

from __future__ import annotations

from controller.clock import ManualClock
from controller.kube.workqueue import WorkQueue


def test_due_keys_come_out_in_time_order() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("b", after=5)
    queue.add("a", after=1)
    assert queue.get(timeout=0) is None
    clock.advance(1)
    assert queue.get(timeout=0) == "a"
    clock.advance(4)
    assert queue.get(timeout=0) == "b"


def test_earliest_schedule_wins() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("a", after=30)
    queue.add("a", after=2)
    queue.add("a", after=60)
    clock.advance(2)
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    clock.advance(100)
    assert queue.get(timeout=0) is None, "superseded schedules must not run the key again"


def test_a_key_is_never_handed_to_two_workers() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")  # a watch event while the first worker is busy
    assert queue.get(timeout=0) is None
    queue.done("a")
    assert queue.get(timeout=0) == "a", "the change seen while busy must be processed once more"
    queue.done("a")
    assert queue.get(timeout=0) is None


def test_requeue_after_while_processing() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a", after=10)  # the reconcile asks to be called again in 10s
    queue.done("a")
    assert queue.get(timeout=0) is None
    clock.advance(10)
    assert queue.get(timeout=0) == "a"


def test_close_releases_waiters_and_forget_drops_schedule() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("gone", after=1)
    queue.forget("gone")
    clock.advance(5)
    assert queue.get(timeout=0) is None
    queue.close()
    assert queue.get() is None
