"""``greenlane demo`` argument handling that needs no servers: bad input is a one-line error, exit 1."""

from __future__ import annotations

import pytest

from controller.cli import main
from controller.sandbox.demo import run_demo
from controller.sandbox.scenarios import SCENARIOS, build_spec


def test_unknown_fault_key_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fault", "bogus=1"]) == 1
    err = capsys.readouterr().err
    assert "unknown fault knob" in err and "Traceback" not in err


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        run_demo("nope")
    with pytest.raises(SystemExit):
        main(["demo", "--scenario", "nope"])


@pytest.mark.parametrize("speed", ["fast", "realistic"])
def test_every_speed_builds_a_valid_spec(speed: str) -> None:
    spec = build_spec({"socket": "/s", "backend": "b", "blueServer": "x", "greenServer": "y"}, speed)  # type: ignore[arg-type]
    assert spec.steps[-1].weight == 100
    assert spec.green.expect_python == "3.12"


def test_fast_max_hold_leaves_room_for_the_first_steps_trend() -> None:
    """Step 1 holds (after its pause) until a trend spans warm-up plus its window and passes twice; on a busy
    machine that stretches, so maxHold must be several times it, or a healthy demo pauses for a human."""
    spec = build_spec({"socket": "/s", "backend": "b", "blueServer": "x", "greenServer": "y"})
    a = spec.analysis
    longest = max(c.window or 0.0 for c in a.checks)
    held = a.warmup + longest + a.required_passes * a.interval - spec.steps[0].pause
    assert held > 0
    assert a.max_hold >= 3 * held, (a.max_hold, held)


def test_fault_scenarios_name_a_check_of_the_spec() -> None:
    spec = build_spec({"socket": "/s", "backend": "b", "blueServer": "x", "greenServer": "y"})
    names = {c.name for c in spec.analysis.checks}
    for scenario in SCENARIOS.values():
        if scenario.expect == "rolled_back":
            assert scenario.failed_check in names
