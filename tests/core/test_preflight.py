"""Preflight from the rollout's side: no traffic moves until both tracks are there, ready and on the right Python."""

from __future__ import annotations

from dataclasses import replace

from controller.core.commands import Command
from controller.core.decide import decide
from controller.core.observations import MISSING
from controller.core.preflight import python_matches, python_versions_needed
from controller.model.status import RolloutStatus
from tests.core.builders import GREEN, T0, Loop, make_spec, reasons, track, weights, world


def test_missing_green_deployment_is_invalid_naming_the_field_and_moves_no_traffic() -> None:
    spec = make_spec()
    decision = decide(spec, RolloutStatus(), world(0, green=MISSING), [], T0)
    assert decision.status.phase == "Invalid"
    assert reasons(decision.actions) == ["DeploymentMissing"]
    assert "spec.green.deployment: Deployment checkout-py312 not found" in decision.status.message
    assert weights(decision.actions) == []


def test_invalid_recovers_when_the_deployment_appears() -> None:
    loop = Loop(make_spec(), green=MISSING)
    loop.step()
    loop.green = GREEN
    decision = loop.step(advance=10)
    assert decision.status.phase == "Progressing"
    assert weights(decision.actions) == [25]
    assert reasons(decision.actions) == ["PreflightPassed", "WeightSet"]


def test_unavailable_replicas_wait_without_traffic_and_announce_once() -> None:
    loop = Loop(make_spec(), green=replace(GREEN, available_replicas=1))
    first = loop.step()
    second = loop.step(advance=10)
    assert first.status.phase == "Pending" and second.status.phase == "Pending"
    assert reasons(first.actions) == ["PreflightWaiting"]
    assert "green checkout-py312: 1/3 replicas available" in first.status.message
    assert second.actions == ()
    assert first.requeue_after == 10.0


def test_wrong_python_is_a_warning_and_a_clear_message_never_traffic() -> None:
    wrong = track("3.12.4")
    wrong = replace(wrong, python_versions={**dict(wrong.python_versions or {}), "pod-2": "3.11.9"})
    decision = decide(make_spec(), RolloutStatus(), world(0, green=wrong), [], T0)
    assert decision.status.phase == "Pending"
    [event] = decision.events
    assert (event.type, event.reason) == ("Warning", "PythonVersionMismatch")
    assert "green pod pod-2 runs Python 3.11.9, expected 3.12 (1/3 pods on another version)" in event.message
    assert weights(decision.actions) == []


def test_unreadable_or_incomplete_python_info_waits() -> None:
    unknown = decide(make_spec(), RolloutStatus(), world(0, green=replace(GREEN, python_versions=None)), [], T0)
    one_pod = replace(GREEN, python_versions={"p": "3.12"})
    partial = decide(make_spec(), RolloutStatus(), world(0, green=one_pod), [], T0)
    assert "cannot read python_info for green pods" in unknown.status.message
    assert "1/3 green pods report python_info" in partial.status.message
    assert weights(unknown.actions) == weights(partial.actions) == []


def test_a_track_without_expect_python_is_not_version_checked() -> None:
    spec = make_spec()
    spec = spec.model_copy(update={"blue": spec.blue.model_copy(update={"expect_python": None})})
    decision = decide(spec, RolloutStatus(), world(0, blue=replace(GREEN, python_versions=None)), [], T0)
    assert decision.status.phase == "Progressing"


def test_python_version_matching() -> None:
    assert python_matches("3.12.4", "3.12")
    assert python_matches("3.12.0rc1", "3.12")
    assert not python_matches("3.1.2", "3.12")
    assert python_matches("3.12.4", "3.12.4")
    assert not python_matches("3.12.3", "3.12.4")


def test_python_versions_are_needed_only_when_preflight_may_run() -> None:
    spec = make_spec()
    progressing = RolloutStatus(phase="Progressing", green_template_hash="abc", last_command="c0")
    assert python_versions_needed(spec, RolloutStatus(), "abc", ())
    assert python_versions_needed(spec, RolloutStatus(phase="Invalid"), "abc", ())
    assert not python_versions_needed(spec, progressing, "abc", ())
    assert python_versions_needed(spec, progressing, "new", ()), "a new green template restarts preflight"
    assert python_versions_needed(spec, progressing, "abc", [Command("c1", "retry")])
    assert not python_versions_needed(spec, progressing, "abc", [Command("c0", "retry")]), "already applied"
