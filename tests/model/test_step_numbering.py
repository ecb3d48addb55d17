"""One step numbering for humans: 1-based in the CRD column, the CLI, events, metrics and the dashboard."""

from __future__ import annotations

from typing import Any

from controller.kube.metrics import OperatorMetrics
from controller.model.crd import PRINTER_COLUMNS, crd
from controller.model.status import RolloutStatus


def test_kubectl_get_shows_the_1_based_step_the_status_carries() -> None:
    (step,) = [c for c in PRINTER_COLUMNS if c["name"] == "Step"]
    assert step["jsonPath"] == ".status.stepNumber"
    wire = RolloutStatus(current_step=1).to_wire()
    assert wire["stepNumber"] == 2 and wire["currentStep"] == 1
    schema: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["status"]["properties"]["stepNumber"]["type"] == "integer", "else the API prunes it"
    assert RolloutStatus.model_validate(wire) == RolloutStatus(current_step=1), "reading it back is harmless"


def test_metrics_use_the_same_number() -> None:
    metrics = OperatorMetrics()
    metrics.observe_status("shop", "checkout", RolloutStatus(current_step=0))
    assert 'greenlane_rollout_step{namespace="shop",rollout="checkout"} 1.0' in metrics.exposition().decode()
