"""Rollbacks first: in the work queue, and in the API write budget."""

from __future__ import annotations

import threading

import pytest

from controller.clock import ManualClock, SystemClock
from controller.kube.manager import priority_of
from controller.kube.ratelimit import CRITICAL, NORMAL, URGENT, Limits, Throttled, TokenBucket
from controller.kube.workqueue import BACKGROUND, WorkQueue
from controller.kube.workqueue import NORMAL as QUEUE_NORMAL
from controller.kube.workqueue import URGENT as QUEUE_URGENT


def test_due_rollbacks_come_out_before_ordinary_work_and_resyncs_last() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    for i in range(50):
        queue.add(f"idle-{i}", priority=BACKGROUND)
        queue.add(f"baking-{i}", priority=QUEUE_NORMAL)
    queue.add("breached", priority=QUEUE_URGENT)
    assert queue.get(timeout=0) == "breached"
    order = [queue.get(timeout=0) for _ in range(100)]
    assert all(str(k).startswith("baking") for k in order[:50]) and all(str(k).startswith("idle") for k in order[50:])


def test_a_key_keeps_its_earliest_time_and_most_urgent_priority() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock)
    queue.add("a", after=600, priority=BACKGROUND)
    queue.add("b", priority=QUEUE_NORMAL)
    queue.add("a", after=5, priority=QUEUE_URGENT)  # the rollout started a rollback: its next look is urgent
    clock.advance(5)
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    assert queue.get(timeout=0) == "b"
    queue.done("b")
    clock.advance(1000)
    assert queue.get(timeout=0) is None, "the superseded background schedule is gone"
    assert queue.depth() == {QUEUE_URGENT: 0, QUEUE_NORMAL: 0, BACKGROUND: 0}


@pytest.mark.parametrize(
    ("status", "urgent"),
    [
        ({"rollback": {"reason": "CheckFailed", "weight": 25}}, True),
        ({"rollback": {"reason": "CheckFailed", "completedAt": "2026-01-01T00:00:00Z"}}, False),
        ({"targetWeight": 0, "weight": 25}, True),
        ({"targetWeight": 50, "weight": 25}, False),
        ({}, False),
    ],
)
def test_rollouts_rolling_back_or_sent_to_zero_are_urgent(status: dict[str, object], urgent: bool) -> None:
    assert (priority_of({"status": status}) == QUEUE_URGENT) is urgent


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(Limits(qps=10, burst=3), clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.try_take()
    assert wait == pytest.approx(0.1)
    clock.advance(wait)
    assert bucket.try_take() == 0.0
    clock.advance(60)
    assert [bucket.try_take() for _ in range(4)][:3] == [0.0, 0.0, 0.0], "refills up to the burst, no further"


def test_rollback_writes_borrow_ahead_and_lease_renewals_are_never_limited() -> None:
    clock = ManualClock()
    bucket = TokenBucket(Limits(qps=5, burst=2), clock)
    assert bucket.try_take(NORMAL) == 0.0 and bucket.try_take(NORMAL) == 0.0
    assert bucket.try_take(NORMAL) > 0, "normal writes wait once the burst is spent"
    assert [bucket.try_take(URGENT) for _ in range(2)] == [0.0, 0.0], "a rollback's writes do not wait"
    assert bucket.try_take(NORMAL) == pytest.approx(3 / 5), "normal writes pay for what the rollback borrowed"
    assert all(bucket.try_take(CRITICAL) == 0.0 for _ in range(100))


def test_an_urgent_writer_goes_before_writers_already_waiting() -> None:
    # qps=0.2: the next normal token is 5 s away, so the rollback below comes first however slowly a busy machine
    # starts the threads and gets back to this one. Once the rollback has borrowed a token the next normal one is
    # 10 s away, more than max_wait: the writers that were waiting give up at once (they pay for what the
    # rollback borrowed) instead of the test waiting 20 s for their tokens.
    bucket = TokenBucket(Limits(qps=0.2, burst=1, max_wait=7.5), SystemClock())
    bucket.acquire(NORMAL)  # the burst is spent: the next normal write waits five seconds
    finished: list[str] = []
    lock = threading.Lock()

    def write(name: str, priority: int) -> None:
        try:
            bucket.acquire(priority)
        except Throttled:
            name += " (throttled)"
        with lock:
            finished.append(name)

    waiting = [threading.Thread(target=write, args=(f"normal-{i}", NORMAL)) for i in range(3)]
    for thread in waiting:
        thread.start()
    write("rollback", URGENT)
    for thread in waiting:
        thread.join(timeout=30)
    assert finished[0] == "rollback" and len(finished) == 4


def test_a_write_that_cannot_get_a_token_in_time_fails_naming_the_flags() -> None:
    bucket = TokenBucket(Limits(qps=0.5, burst=1, max_wait=0.2), SystemClock())
    bucket.acquire(NORMAL)
    with pytest.raises(Throttled, match=r"--api-qps 0\.5, --api-burst 1"):
        bucket.acquire(NORMAL)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="--api-qps"):
        Limits(qps=0, burst=1)
