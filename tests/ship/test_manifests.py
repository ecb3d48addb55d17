"""config/: the plain manifests (through real kubectl kustomize), alert rules (real promtool) and dashboard.

``kubectl create/apply --dry-run=client`` still asks an API server for discovery, so the client-side
check here is ``kubectl kustomize`` (parses and assembles every manifest) plus strict schema validation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.kube.metrics import OperatorMetrics
from tests.ship.k8s_tools import REPO, K8sTools
from tests.ship.render import Obj, documents, helm_template, one, run, validate

PROMETHEUS = REPO / "config" / "prometheus"
DASHBOARD = REPO / "config" / "grafana" / "greenlane-rollouts.json"
METRIC = re.compile(r"\bgreenlane_[a-z0-9_]+")


@pytest.fixture(scope="module")
def kustomized(tools: K8sTools) -> list[Obj]:
    return documents(run([str(tools.kubectl), "kustomize", str(REPO / "config")]))


def test_kustomize_renders_a_complete_valid_install(kustomized: list[Obj]) -> None:
    kinds = sorted(o["kind"] for o in kustomized)
    assert kinds == sorted(
        [
            "Namespace",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ]
    )
    assert validate(kustomized) == []
    namespaced = [o for o in kustomized if o["kind"] in ("Deployment", "Service", "ServiceAccount", "Role")]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"greenlane-system"}


def test_plain_deployment_matches_the_chart(kustomized: list[Obj], tools: K8sTools) -> None:
    """The same operator contract whichever way it is installed; only labels and the image differ."""
    plain = one(kustomized, "Deployment")["spec"]["template"]["spec"]
    chart = one(helm_template(tools), "Deployment")["spec"]["template"]["spec"]
    (plain_c,), (chart_c,) = plain["containers"], chart["containers"]
    for key in (
        "args",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
        "volumeMounts",
    ):
        assert plain_c[key] == chart_c[key], key
    for key in ("securityContext", "volumes", "terminationGracePeriodSeconds", "serviceAccountName"):
        assert plain[key] == chart[key], key
    assert plain_c["image"].startswith("ghcr.io/greenlane-dev/greenlane:")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
            pytest.skip("promtool not installed")
        pytest.fail("promtool not found: apt-get install prometheus (or GREENLANE_ALLOW_SKIP=1)")
    return found


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    for rules in sorted(PROMETHEUS.glob("alerts*.yaml")):
        if rules.name.endswith("_test.yaml"):
            run([promtool(), "test", "rules", rules.name], cwd=PROMETHEUS)
        else:
            assert "SUCCESS" in run([promtool(), "check", "rules", str(rules)])


def test_alerts_cover_rollback_stuck_paused_and_inconclusive() -> None:
    rules = [r for g in yaml.safe_load((PROMETHEUS / "alerts.yaml").read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "GreenlaneRolloutRolledBack",
        "GreenlaneRolloutStuck",
        "GreenlaneRolloutPausedTooLong",
        "GreenlaneAnalysisInconclusive",
    } <= names
    for rule in rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def _dashboard_exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ("expr", "query", "definition") and isinstance(v, str)] + [
            e for v in node.values() for e in _dashboard_exprs(v)
        ]
    if isinstance(node, list):
        return [e for v in node for e in _dashboard_exprs(v)]
    return []


def test_alerts_and_dashboard_use_only_metrics_the_operator_exports() -> None:
    exported = OperatorMetrics().sample_names()
    sources = {p.name: p.read_text() for p in [*PROMETHEUS.glob("alerts*.yaml"), DASHBOARD]}
    for name, text in sources.items():
        used = set(METRIC.findall(text))
        assert used, f"{name} references no greenlane metric"
        assert used <= exported, f"{name} uses metrics controller/kube/metrics.py lacks: {sorted(used - exported)}"


def test_dashboard_shows_weight_checks_green_vs_blue_and_rollbacks() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    exprs = " ".join(_dashboard_exprs(panels))
    assert "greenlane_rollout_green_weight_percent" in exprs
    assert "greenlane_check_level" in exprs and "greenlane_check_slope" in exprs
    legends = [t.get("legendFormat", "") for p in panels for t in p.get("targets", [])]
    assert any("{{track}}" in legend for legend in legends), "green and blue side by side"
    assert "greenlane_rollbacks_total" in exprs
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "rollout", "check"} <= variables
    for panel in panels:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_config_manifests_parse_as_yaml() -> None:
    for path in sorted(Path(REPO / "config").glob("*/**/*.yaml")):
        assert list(yaml.safe_load_all(path.read_text())), path


def readme_section(title: str) -> str:
    return (REPO / "README.md").read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_documents_every_operator_metric() -> None:
    documented = set(METRIC.findall(readme_section("Alerts and dashboard")))
    families = {family.name for family in OperatorMetrics().registry.collect()}  # counters without _total
    assert {name.removesuffix("_total") for name in documented} == families


def test_readme_gateway_api_example_is_a_valid_rollout(tmp_path: Path) -> None:
    from controller.cli import main

    block = readme_section("Gateway API example").split("```yaml\n", 1)[1].split("```", 1)[0]
    kinds = [doc["kind"] for doc in yaml.safe_load_all(block)]
    assert kinds == ["HTTPRoute", "BlueGreenRollout"]
    rollout = tmp_path / "rollout.yaml"
    rollout.write_text(yaml.safe_dump(list(yaml.safe_load_all(block))[1]))
    assert main(["validate", "-f", str(rollout)]) == 0


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_url_to_a_readme_heading() -> None:
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", (REPO / "README.md").read_text(), re.MULTILINE)}
    rules = [r for g in yaml.safe_load((PROMETHEUS / "alerts.yaml").read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        url = rule["annotations"].get("runbook_url", "")
        assert url.startswith("https://github.com/greenlane-dev/greenlane/blob/main/README.md#"), rule["alert"]
        assert url.split("#", 1)[1] in anchors, f"{rule['alert']}: no README heading for {url}"
    assert "why-did-it-roll-back" in anchors


def test_readme_has_a_worked_example_for_every_router() -> None:
    from controller.model.load import parse_manifests
    from controller.model.routing import ROUTERS

    section = readme_section("Gateway API example") + readme_section("More router examples")
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    seen: set[str] = set()
    for block in blocks:
        parsed = parse_manifests(block, "README")
        assert parsed.problems == [], parsed.problems
        for item in parsed.loaded:
            spec = item.rollout.spec
            seen.add(spec.traffic_routing.kind)
            others = [d for d in yaml.safe_load_all(block) if d and d["kind"] != "BlueGreenRollout"]
            text = json.dumps(others)
            for track in (spec.blue, spec.green):
                if track.service:
                    assert f'"{track.service}"' in text, f"{track.service} is not defined or routed in the example"
            services = [d for d in others if d["kind"] == "Service"]
            assert all(d["metadata"]["namespace"] == item.rollout.metadata.namespace for d in others), block
            if spec.traffic_routing.kind not in ("gatewayAPI", "haproxy"):  # HAProxy: its config is the router
                assert services, f"the {spec.traffic_routing.kind} example shows its Services"
    assert seen == set(ROUTERS)
