"""Notifications from the receiver's side: a real HTTP server on loopback gets what Slack, Teams or a
Flagger-style webhook would, with the numbers; a slow or failing receiver never holds up a reconcile."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controller.clock import ManualClock, SystemClock
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.kube.webhooks import SecretUrlReader
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RollbackRecord, RolloutStatus, TrackValues
from controller.notify import Notifier, RolloutRef, Sink
from tests.cli.helpers import rollout
from tests.kube.harness import RunningEmulator

Json = dict[str, Any]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """Answers each POST with the next status in ``answers`` (then 200), recording every body."""

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    bodies: list[Json] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""
    hits: int = 0
    location: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


def receiver_fixture() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            time.sleep(state.delay)
            with lock:
                state.hits += 1
                code = state.answers.pop(0) if state.answers else 200
                if code == 200:
                    state.bodies.append(body)
                    state.paths.append(self.path)
            self.send_response(code)
            if state.location:
                self.send_header("Location", state.location)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def spec() -> RolloutSpec:
    return RolloutSpec.model_validate(rollout()["spec"])


def rolled_back() -> RolloutStatus:
    memory = CheckStatus(
        name="memory",
        verdict="Fail",
        green=500.0,
        blue=0.0,
        threshold="slope <= blue +50.0 MiB/h",
        unit="bytes",
        measure="slope",
        level=TrackValues(green=71_303_168.0, blue=40_000_000.0),
        slope=TrackValues(green=500.0, blue=0.0),
    )
    record = RollbackRecord(
        reason="AnalysisFailed",
        check="memory",
        message="Rolled back at 25%: memory slope +1.7 MiB/h vs blue +0 B/h; limit +50.0 MiB/h over blue",
        weight=25,
        at=T0,
        green=500.0,
        blue=0.0,
        threshold="slope <= blue +50.0 MiB/h",
        failures=2,
        completed_at=T0,
    )
    return RolloutStatus(phase="RolledBack", current_step=1, weight=0, rollback=record, checks=[memory])


def notifier(receiver: Receiver, **kwargs: Any) -> Notifier:
    sinks = [Sink("slack", receiver.url + "/slack", "info"), Sink("teams", receiver.url + "/teams", "info")]
    sinks.append(Sink("webhook", receiver.url + "/hook", "info"))
    return Notifier(sinks, clock=ManualClock(T0), sleep=lambda _: None, **kwargs)


def test_every_sink_gets_what_happened_where_the_numbers_and_who(receiver: Receiver) -> None:
    results: list[tuple[str, str]] = []
    sender = notifier(receiver, on_result=lambda s, r: results.append((s, r)))
    text = "Rolled back at 25%: memory slope +1.7 MiB/h vs blue +0 B/h; limit +50.0 MiB/h over blue (2/2 failures)"
    sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", text, rolled_back(), spec())
    assert sender.flush(30)
    sender.close()
    by_path = dict(zip(receiver.paths, receiver.bodies, strict=True))
    slack = json.dumps(by_path["/slack"])
    assert by_path["/slack"]["blocks"][0]["type"] == "header" and "shop/checkout: RolledBack" in slack
    for expected in ("*Step*\\n2/4", "green 25% / blue 75%", "*Check*\\nmemory", "+1.7 MiB/h", "+0 B/h"):
        assert expected in slack, expected
    assert "slope <= blue +50.0 MiB/h" in slack and "greenlane (automatic)" in slack
    card = by_path["/teams"]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["Green"] == "+1.7 MiB/h" and facts["Blue"] == "+0 B/h" and facts["Step"] == "2/4"
    hook = by_path["/hook"]
    assert (hook["name"], hook["namespace"], hook["phase"]) == ("checkout", "shop", "RolledBack")
    assert hook["metadata"]["eventMessage"] == text and hook["metadata"]["eventType"] == "Warning"
    assert hook["metadata"]["timestamp"] == str(int(T0.timestamp() * 1000))
    assert all(isinstance(v, str) for v in hook["metadata"].values()), "Flagger receivers expect strings"
    assert hook["greenlane"]["failingCheck"]["threshold"] == "slope <= blue +50.0 MiB/h"
    assert hook["greenlane"]["checks"][0]["green"] == 500.0
    assert sorted(results) == [("slack", "sent"), ("teams", "sent"), ("webhook", "sent")]


def test_the_user_who_acted_is_named(receiver: Receiver) -> None:
    sender = Notifier([Sink("webhook", receiver.url, "info")], clock=ManualClock(T0))
    status = RolloutStatus(phase="Paused", pause_reason="Command", current_step=2, weight=50)
    sender.publish(RolloutRef("shop", "checkout"), "Paused", "Normal", "Paused by alice", status, spec(), "alice")
    assert sender.flush(30)
    sender.close()
    assert receiver.bodies[0]["metadata"]["acted"] == "alice"
    assert receiver.bodies[0]["metadata"]["step"] == "3/4"


def test_severity_filter_and_reasons(receiver: Receiver) -> None:
    sender = Notifier([Sink("webhook", receiver.url, "error")], clock=ManualClock(T0))
    status = RolloutStatus(phase="Progressing", weight=5)
    sender.publish(RolloutRef("shop", "checkout"), "WeightSet", "Normal", "at 5%", status, spec())
    sender.publish(RolloutRef("shop", "checkout"), "AnalysisFailed", "Warning", "1/2", status, spec())
    sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", "back", rolled_back(), spec())
    assert sender.flush(30)
    sender.close()
    assert [b["metadata"]["reason"] for b in receiver.bodies] == ["RolledBack"]


def test_transient_failures_are_retried_with_backoff(receiver: Receiver) -> None:
    receiver.answers = [503, 429]
    waits: list[float] = []
    results: list[str] = []
    sender = Notifier(
        [Sink("slack", receiver.url, "info")],
        clock=ManualClock(T0),
        sleep=waits.append,
        backoff=0.5,
        on_result=lambda s, r: results.append(r),
    )
    sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", "back", rolled_back(), spec())
    assert sender.flush(30)
    sender.close()
    assert receiver.hits == 3 and len(receiver.bodies) == 1 and results == ["sent"]
    assert len(waits) == 2 and waits[1] > waits[0] > 0, "exponential backoff between attempts"


def test_a_dead_receiver_is_given_up_after_the_attempts(receiver: Receiver) -> None:
    receiver.answers = [500] * 10
    results: list[str] = []
    sender = Notifier(
        [Sink("teams", receiver.url, "info")],
        clock=ManualClock(T0),
        sleep=lambda _: None,
        attempts=3,
        on_result=lambda s, r: results.append(r),
    )
    sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", "back", rolled_back(), spec())
    assert sender.flush(30)
    sender.close()
    assert receiver.hits == 3 and results == ["failed"]


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    """A tenant's webhook answering 307 to an internal address: the operator does not POST there."""
    with contextlib.ExitStack() as stack:
        elsewhere = stack.enter_context(contextlib.contextmanager(receiver_fixture)())
        receiver.answers, receiver.location = [307], f"{elsewhere.url}/internal"
        results: list[str] = []
        sender = Notifier(
            [Sink("webhook", receiver.url, "info")], clock=ManualClock(T0), on_result=lambda s, r: results.append(r)
        )
        sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", "back", rolled_back(), spec())
        assert sender.flush(30)
        sender.close()
        assert receiver.hits == 1 and elsewhere.hits == 0, "the redirect was followed"
        assert results == ["failed"], results


def test_publish_never_waits_for_a_hung_receiver() -> None:
    """The receiver never answers: publish still returns, the bounded queue fills and drops are counted."""
    release = threading.Event()
    results: list[str] = []

    def hung_post(url: str, payload: Json, timeout: float) -> int:
        release.wait()
        return 200

    sender = Notifier(
        [Sink("webhook", "http://127.0.0.1:9/hook", "info")],
        post=hung_post,
        clock=ManualClock(T0),
        queue_size=2,
        on_result=lambda s, r: results.append(r),
    )

    def reconcile_loop() -> None:
        for _ in range(10):
            sender.publish(RolloutRef("shop", "checkout"), "RolledBack", "Warning", "back", rolled_back(), spec())

    loop = threading.Thread(target=reconcile_loop)
    loop.start()
    loop.join(30)
    finished = not loop.is_alive()
    release.set()
    assert finished, "publish waited for the receiver"
    assert results.count("dropped") >= 10 - 2 - 1, results
    assert sender.flush(30)
    sender.close()


def _secret(name: str, url: str, *, opted_in: bool) -> Json:
    labels = {"greenlane.dev/notification-webhook": "true"} if opted_in else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "shop", "labels": labels},
        "data": {"url": base64.b64encode(url.encode()).decode()},
    }


def test_rollout_notifications_come_from_opted_in_secrets_through_the_operator(
    receiver: Receiver, kube: RunningEmulator, api_client: Any
) -> None:
    """The operator's reconcile of an invalid rollout: the InvalidSpec event reaches the rollout's webhook,
    the Slack URL in a Secret that did not opt in is never used."""
    doc = rollout()
    doc["spec"]["analysis"]["prometheus"]["address"] = "http://127.0.0.1:9"
    doc["spec"]["notifications"] = [
        {"type": "webhook", "urlSecret": {"name": "hook"}, "severity": "warning"},
        {"type": "slack", "urlSecret": {"name": "db-password"}},
    ]
    kube.seed(doc)
    kube.seed(_secret("hook", receiver.url + "/hook", opted_in=True), "secrets")
    kube.seed(_secret("db-password", receiver.url + "/stolen", opted_in=False), "secrets")
    metrics = OperatorMetrics()
    clock = SystemClock()
    sender = Notifier(resolve=SecretUrlReader(api_client), on_result=metrics.record_notification)
    reconciler = Reconciler(api_client, clock, EventRecorder(api_client, clock), metrics, lambda: True, notifier=sender)
    reconciler.reconcile("shop", "checkout")
    assert sender.flush(30)
    sender.close()
    assert receiver.paths == ["/hook"], "the Secret without the opt-in label is not read"
    body = receiver.bodies[0]
    assert body["phase"] == "Invalid" and body["metadata"]["reason"] in {"InvalidSpec", "DeploymentMissing"}
    assert "spec." in body["metadata"]["eventMessage"]
    exposition = metrics.exposition().decode()
    assert 'greenlane_notifications_total{result="sent",sink="webhook"} 1.0' in exposition
    assert 'greenlane_notifications_total{result="refused",sink="slack"} 1.0' in exposition
