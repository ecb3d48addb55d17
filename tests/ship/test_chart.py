"""The Helm chart, rendered by the real helm binary and validated against the Kubernetes schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ship.k8s_tools import REPO, K8sTools
from tests.ship.render import CHART, NAMESPACE, Obj, helm_template, of_kind, one, run, set_args, validate

COMBINATIONS: dict[str, dict[str, str]] = {
    "defaults": {},
    "namespaced": {"scope": "namespaced", "watchNamespaces": "{shop,payments}"},
    "namespaced-release-only": {"scope": "namespaced"},
    "servicemonitor": {"metrics.serviceMonitor.enabled": "true", "metrics.serviceMonitor.labels.release": "kps"},
    "pdb": {"podDisruptionBudget.enabled": "true"},
    "everything": {
        "scope": "namespaced",
        "watchNamespaces": "{shop}",
        "metrics.serviceMonitor.enabled": "true",
        "podDisruptionBudget.enabled": "true",
        "prometheusUrl": "http://prometheus.monitoring:9090",
        "image.digest": "sha256:" + "a" * 64,
        "logFormat": "console",
    },
    "on-call": {
        "prometheusRule.enabled": "true",
        "prometheusRule.labels.release": "kps",
        "dashboard.enabled": "true",
        "dashboard.namespace": "monitoring",
        "notifications.slack.secretName": "greenlane-slack",
        "notifications.webhook.secretName": "greenlane-hook",
        "notifications.webhook.secretKey": "endpoint",
        "notifications.severity": "error",
        "extraArgs": "{--workers=8}",
        "topologySpreadConstraints[0].maxSkew": "1",
        "topologySpreadConstraints[0].topologyKey": "topology.kubernetes.io/zone",
        "topologySpreadConstraints[0].whenUnsatisfiable": "ScheduleAnyway",
    },
    "single-replica-no-leader-election": {
        "replicaCount": "1",
        "leaderElection.enabled": "false",
        "rbac.userRoles": "false",
    },
}


@pytest.fixture(scope="module")
def rendered(tools: K8sTools) -> dict[str, list[Obj]]:
    return {name: helm_template(tools, values, crds=True) for name, values in COMBINATIONS.items()}


def test_helm_lint_strict(tools: K8sTools) -> None:
    for values in COMBINATIONS.values():
        out = run([str(tools.helm), "lint", "--strict", str(CHART), "--namespace", NAMESPACE, *set_args(values)])
        assert "0 chart(s) failed" in out


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_object_is_schema_valid(rendered: dict[str, list[Obj]], combination: str) -> None:
    objects = rendered[combination]
    assert {"Deployment", "ServiceAccount", "CustomResourceDefinition"} <= {o["kind"] for o in objects}
    assert validate(objects) == []


def test_validation_catches_a_broken_object(rendered: dict[str, list[Obj]]) -> None:
    """Guard against a validator that accepts everything (wrong version, lenient mode)."""
    deployment = one(rendered["defaults"], "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "surprise": True}}
    assert len(validate([broken])) == 1


def test_deployment_is_locked_down(rendered: dict[str, list[Obj]]) -> None:
    deployment = one(rendered["defaults"], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    expected_args = {"--leader-elect", "--all-namespaces", "--metrics-addr=:8080", "--health-addr=:8081"}
    assert expected_args <= set(container["args"])
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    assert [v["mountPath"] for v in container["volumeMounts"]] == ["/tmp"]


def test_namespaced_mode_grants_nothing_cluster_wide(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["namespaced"]
    cluster_roles = [r["metadata"]["name"] for r in of_kind(objects, "ClusterRole")]
    assert not any(name.endswith("-manager") for name in cluster_roles), "operator rules must be Roles"
    assert of_kind(objects, "ClusterRoleBinding") == []
    roles = of_kind(objects, "Role")
    managers = [r["metadata"]["namespace"] for r in roles if r["metadata"]["name"].endswith("-manager")]
    assert sorted(managers) == ["payments", "shop"]
    args = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=shop" in args and "--namespace=payments" in args and "--all-namespaces" not in args
    release_only = rendered["namespaced-release-only"]
    assert [r["metadata"]["namespace"] for r in of_kind(release_only, "Role")] == [NAMESPACE, NAMESPACE]


def test_servicemonitor_selects_the_metrics_service(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["servicemonitor"]
    monitor, service = one(objects, "ServiceMonitor"), one(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert of_kind(rendered["defaults"], "ServiceMonitor") == []


def test_pdb_and_service_select_the_operator_pods(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["pdb"]
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert one(objects, "Service")["spec"]["selector"].items() <= pod_labels.items()
    assert of_kind(rendered["defaults"], "PodDisruptionBudget") == []


def test_crd_in_chart_is_config_crd_byte_for_byte() -> None:
    source = REPO / "config" / "crd" / "bluegreenrollouts.greenlane.dev.yaml"
    assert [p.name for p in (CHART / "crds").iterdir()] == [source.name]
    copy = CHART / "crds" / source.name
    assert copy.read_bytes() == source.read_bytes(), "run: cp config/crd/*.yaml charts/greenlane/crds/"


def test_values_schema_rejects_mistakes(tools: K8sTools) -> None:
    for bad in (
        {"scope": "everywhere"},
        {"replicaCont": "2"},
        {"watchNamespaces": "{Not_A_Namespace}"},
        {"replicaCount": "2", "leaderElection.enabled": "false"},
    ):
        argv = [str(tools.helm), "template", "x", str(CHART), *set_args(bad)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode != 0, f"{bad} was accepted"


def test_notes_tell_how_to_watch_a_rollout(tools: K8sTools) -> None:
    out = run([str(tools.helm), "install", "greenlane", str(CHART), "--dry-run=client", "--namespace", NAMESPACE])
    notes = out.split("NOTES:", 1)[1]
    assert "kubectl greenlane get NAME -n NS --watch" in notes
    assert "kubectl get bgr -A" in notes
    assert "greenlane-rollout-operator" in notes


def test_notes_tell_the_truth_about_getting_the_cli(tools: K8sTools) -> None:
    """Not `pip install greenlane` (no such package on PyPI): the repository the chart comes from, at its version."""
    out = run([str(tools.helm), "install", "greenlane", str(CHART), "--dry-run=client", "--namespace", NAMESPACE])
    notes = out.split("NOTES:", 1)[1]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert "pip install greenlane" not in notes
    assert f'pip install "git+{chart["home"]}.git@v{chart["appVersion"]}"' in notes
    assert "pip install ." in notes
    project = (REPO / "pyproject.toml").read_text()
    assert 'kubectl-greenlane = "controller.cli:main"' in project, "the plugin the notes promise is installed"


def test_on_call_values_render_rule_dashboard_notifications_and_spread(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["on-call"]
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kps"
    alerts = yaml.safe_load((REPO / "config/prometheus/alerts.yaml").read_text())
    assert rule["spec"] == alerts, "the PrometheusRule carries config/prometheus/alerts.yaml as is"
    dashboard = one(objects, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    expected = json.loads((REPO / "config/grafana/greenlane-rollouts.json").read_text())
    assert json.loads(dashboard["data"]["greenlane-rollouts.json"]) == expected
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][-2:] == ["--notify-severity=error", "--workers=8"]
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["GREENLANE_SLACK_WEBHOOK_URL"] == {"name": "greenlane-slack", "key": "url"}
    assert env["GREENLANE_WEBHOOK_URL"] == {"name": "greenlane-hook", "key": "endpoint"}
    assert "GREENLANE_TEAMS_WEBHOOK_URL" not in env
    (spread,) = pod["topologySpreadConstraints"]
    selector = one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    assert spread["labelSelector"]["matchLabels"] == selector and spread["maxSkew"] == 1
    assert of_kind(rendered["defaults"], "PrometheusRule") == [] and of_kind(rendered["defaults"], "ConfigMap") == []


def test_chart_files_are_the_configs_byte_for_byte() -> None:
    for source in (REPO / "config/prometheus/alerts.yaml", REPO / "config/grafana/greenlane-rollouts.json"):
        copy = CHART / "files" / source.name
        assert copy.read_bytes() == source.read_bytes(), f"run: cp {source.relative_to(REPO)} {copy.relative_to(REPO)}"


def test_works_as_a_subchart_with_global_values(tools: K8sTools, tmp_path: Path) -> None:
    """A parent chart passes `global` to every subchart; the schema must allow it."""
    parent = tmp_path / "platform"
    (parent / "charts").mkdir(parents=True)
    (parent / "templates").mkdir()
    (parent / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "platform",
                "version": "1.0.0",
                "dependencies": [{"name": "greenlane", "version": "0.1.0", "condition": "greenlane.enabled"}],
            }
        )
    )
    (parent / "values.yaml").write_text(
        yaml.safe_dump(
            {"global": {"imageRegistry": "registry.example.com"}, "greenlane": {"enabled": True, "replicaCount": 3}}
        )
    )
    shutil.copytree(CHART, parent / "charts" / "greenlane")
    out = run([str(tools.helm), "template", "platform", str(parent), "--namespace", NAMESPACE])
    deployments = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment"]
    assert [d["spec"]["replicas"] for d in deployments] == [3]
    run([str(tools.helm), "lint", "--strict", str(parent)])
