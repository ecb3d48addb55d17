"""The chart's fleet-scale values (issue 15) reach ``greenlane run`` as flags, and shards need Leases."""

from __future__ import annotations

import subprocess

from tests.ship.k8s_tools import K8sTools
from tests.ship.render import CHART, NAMESPACE, RELEASE, helm_template, one


def args_of(objects: list[dict[str, object]]) -> list[str]:
    deployment = one(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    args: list[str] = containers[0]["args"]
    return args


def test_chart_passes_scale_values_to_the_operator(tools: K8sTools) -> None:
    values = {
        "replicaCount": "4",
        "scale.shards": "8",
        "scale.apiQPS": "200",
        "scale.apiBurst": "400",
        "scale.evaluationRound": "15s",
        "leaderElection.leaseDuration": "20s",
    }
    args = args_of(helm_template(tools, values))
    for expected in (
        "--shards=8",
        "--api-qps=200",
        "--api-burst=400",
        "--evaluation-round=15s",
        "--lease-duration=20s",
    ):
        assert expected in args, args
    defaults = args_of(helm_template(tools))
    assert {"--shards=1", "--api-qps=50", "--api-burst=100", "--resync=10m"} <= set(defaults), defaults


def render_fails(tools: K8sTools, *sets: str) -> str:
    argv = [str(tools.helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for value in sets:
        argv += ["--set", value]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode != 0, f"rendered with {sets}"
    return done.stderr


def test_chart_refuses_shards_without_leases_and_bad_values(tools: K8sTools) -> None:
    err = render_fails(tools, "scale.shards=4", "leaderElection.enabled=false", "replicaCount=1")
    assert "scale.shards > 1 needs leaderElection.enabled" in err
    assert "shards" in render_fails(tools, "scale.shards=0")
    assert "apiQPS" in render_fails(tools, "scale.apiQPS=0")
