"""The real ``greenlane run`` process against the strict emulator and a real Prometheus that scrapes a
simulated fleet whose traffic follows the HTTPRoute the operator writes.

Each test owns a namespace; the fleet and Prometheus are shared so the one minute of history the
level checks need is paid once per module.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kube.harness import RunningEmulator, running_emulator
from tests.operator.fleet import Fleet, PodSim, Service
from tests.operator.procs import TESTER_TOKEN, operator, wait_for, write_kubeconfig
from tests.operator.prometheus import scraping
from tests.operator.world import BGR, ROUTE, green_weight, pod_name, rollout, route, track_objects

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]
Json = dict[str, Any]
NAMESPACES = {
    "healthy": 0.02,
    "regression": 0.06,
    "restart": 0.02,
    "leader": 0.02,
    "manual": 0.02,
    "abort": 0.02,
}  # green's base latency
HISTORY = 65.0  # level checks need a minute of data in their window


@dataclass
class Env:
    kube: RunningEmulator
    prometheus: str
    kubeconfig: Path
    workdir: Path

    def status(self, namespace: str) -> Json:
        obj = self.kube.get(*BGR, namespace, "checkout") or {}
        status: Json = obj.get("status") or {}
        return status

    def weights(self, namespace: str) -> list[int]:
        """Green's weight in every stored version of the route, consecutive repeats folded."""
        out: list[int] = []
        for version in self.kube.history(*ROUTE, namespace, "checkout"):
            weight = green_weight(version)
            if not out or out[-1] != weight:
                out.append(weight)
        return out

    def events(self, namespace: str) -> list[Json]:
        posted = [
            r
            for r in self.kube.requests(writes_only=True)
            if r.method == "POST" and r.path == f"/api/v1/namespaces/{namespace}/events"
        ]
        return [r.body for r in posted if isinstance(r.body, dict)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("operator-e2e")
    with running_emulator() as kube:
        services = []
        for namespace, green_latency in NAMESPACES.items():
            for obj in [
                *track_objects(namespace, "checkout"),
                *track_objects(namespace, "checkout-py312"),
                route(namespace),
            ]:
                kube.seed(obj)
            services.append(
                Service(
                    blue=PodSim(namespace, pod_name("checkout"), "3.11.7"),
                    green=PodSim(namespace, pod_name("checkout-py312"), "3.12.1", latency=green_latency),
                    green_weight=_route_weight(kube, namespace),
                )
            )
        fleet = Fleet(services)
        try:
            with scraping(fleet.target, workdir) as url:
                time.sleep(HISTORY)  # counted once Prometheus scrapes: a slow start must not eat the data
                kube.emulator.users[TESTER_TOKEN] = "tester"
                yield Env(kube, url, write_kubeconfig(kube.url, workdir / "kubeconfig"), workdir)
        finally:
            fleet.close()


def _route_weight(kube: RunningEmulator, namespace: str) -> Callable[[], int]:
    return lambda: green_weight(kube.get(*ROUTE, namespace, "checkout"))


STEPS = [{"weight": 20, "pause": "4s"}, {"weight": 50, "pause": "4s"}, {"weight": 100, "pause": "4s"}]


def test_healthy_rollout_walks_every_step_to_promotion(env: Env) -> None:
    ns = "healthy"
    env.kube.seed(rollout(ns, env.prometheus, STEPS))
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "get",
            "checkout",
            "-n",
            ns,
            "--kubeconfig",
            str(env.kubeconfig),
            "--watch",
            "--interval",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}.log", prometheus=env.prometheus) as op:
        wait_for("promotion", lambda: env.status(ns).get("phase") == "Promoted", timeout=300)
        assert op.stop() == 0
        assert "watch failed" not in op.output() and "reconcile failed" not in op.output(), op.output()
    shown = watch.communicate(timeout=60)[0]
    assert watch.returncode == 0, "get -w ends by itself once the rollout is Promoted"
    assert env.weights(ns) == [0, 20, 50, 100]
    status = env.status(ns)
    assert status["weight"] == 100 and status["currentStep"] == 2
    assert {c["name"]: c["verdict"] for c in status["checks"]} == {
        "p99-latency": "Pass",
        "errors": "Pass",
        "python": "Pass",
    }
    reasons = [e["reason"] for e in env.events(ns)]
    expected = ["PreflightPassed", "WeightSet", "StepCompleted", "WeightSet", "StepCompleted", "WeightSet", "Promoted"]
    assert _subsequence(expected, reasons), reasons
    assert " Progressing step 1/3 green 20%" in shown and " Promoted step 3/3 green 100%" in shown, shown
    states = [line.split(" ", 1)[1] for line in shown.splitlines() if "   event " not in line]  # drop the clock
    assert all(a != b for a, b in itertools.pairwise(states)), "one line per change, never a repeat"


def test_regression_rolls_back_with_the_numbers(env: Env) -> None:
    ns = "regression"
    env.kube.seed(rollout(ns, env.prometheus, STEPS))
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}.log", prometheus=env.prometheus):
        wait_for("rollback", lambda: env.status(ns).get("phase") == "RolledBack", timeout=180)
    assert env.weights(ns) == [0, 20, 0]
    status = env.status(ns)
    assert status["rollback"]["check"] == "p99-latency"
    warnings = [e for e in env.events(ns) if e["type"] == "Warning" and e["reason"] == "RolledBack"]
    assert warnings, [e["reason"] for e in env.events(ns)]
    message = warnings[0]["message"]
    assert "p99-latency" in message and "blue" in message and "1.5" in message, message


def test_sigkill_mid_step_resumes_the_same_step(env: Env) -> None:
    ns = "restart"
    env.kube.seed(rollout(ns, env.prometheus, [{"weight": 20, "pause": "20s"}, {"weight": 100, "pause": "2s"}]))
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}-1.log", prometheus=env.prometheus) as first:
        baking = wait_for(
            "step 0 to bake",
            lambda: env.status(ns).get("stepStartedAt") if env.status(ns).get("weight") == 20 else None,
            timeout=60,
        )
        time.sleep(3)
        first.kill()
    versions_at_kill = len(env.kube.history(*ROUTE, ns, "checkout"))
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}-2.log", prometheus=env.prometheus):
        time.sleep(3)
        assert env.status(ns).get("stepStartedAt") == baking, "the restarted operator re-ran the step"
        assert env.status(ns).get("currentStep") == 0
        wait_for("promotion", lambda: env.status(ns).get("phase") == "Promoted", timeout=180)
    after = [green_weight(v) for v in env.kube.history(*ROUTE, ns, "checkout")[versions_at_kill:]]
    assert after == [100], f"weights written after the restart: {after}"


def test_two_operators_only_the_leader_writes(env: Env) -> None:
    ns = "leader"
    env.kube.seed(rollout(ns, env.prometheus, [{"weight": 20, "pause": "8s"}, {"weight": 100, "pause": "2s"}]))
    with (
        operator(
            env.kubeconfig, ns, env.workdir / "a.log", name="op-a", leader_elect=True, prometheus=env.prometheus
        ) as a,
        operator(
            env.kubeconfig, ns, env.workdir / "b.log", name="op-b", leader_elect=True, prometheus=env.prometheus
        ) as b,
    ):
        holder = wait_for("a leader", lambda: _holder(env), timeout=30)
        wait_for("step 0 to bake", lambda: env.status(ns).get("weight") == 20, timeout=60)
        instances = {e.get("reportingInstance") for e in env.events(ns)}
        assert instances == {holder}, instances
        leader, standby = (a, b) if holder == "op-a" else (b, a)
        assert leader.stop() == 0  # releases the lease
        successor = wait_for(
            "the standby to take over", lambda: _holder(env) if _holder(env) != holder else None, timeout=30
        )
        assert successor == ("op-b" if holder == "op-a" else "op-a")
        wait_for("promotion", lambda: env.status(ns).get("phase") == "Promoted", timeout=180)
        assert standby.process.poll() is None
    assert env.weights(ns) == [0, 20, 100]


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args, "--kubeconfig", str(env.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_manual_gate_waits_for_promote(env: Env) -> None:
    ns = "manual"
    env.kube.seed(rollout(ns, env.prometheus, [{"weight": 20, "pause": "manual"}, {"weight": 100, "pause": "2s"}]))
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}.log", prometheus=env.prometheus):
        wait_for("the manual gate", lambda: env.status(ns).get("pauseReason") == "ManualStep", timeout=60)
        time.sleep(6)  # several evaluations pass, yet the gate holds
        assert env.status(ns)["weight"] == 20 and env.status(ns)["currentStep"] == 0
        promoted = _cli(env, "promote", "checkout", "-n", ns, "--wait", "60")
        assert promoted.returncode == 0, promoted.stderr
        assert "applied:" in promoted.stdout
        wait_for("promotion", lambda: env.status(ns).get("phase") == "Promoted", timeout=60)
    assert env.weights(ns) == [0, 20, 100]
    accepted = [e["message"] for e in env.events(ns) if e["reason"] == "PromoteAccepted"]
    assert accepted and "tester" in accepted[0], accepted


def test_abort_rolls_back_and_names_who(env: Env) -> None:
    ns = "abort"
    env.kube.seed(rollout(ns, env.prometheus, [{"weight": 20, "pause": "10m"}, {"weight": 100, "pause": "2s"}]))
    with operator(env.kubeconfig, ns, env.workdir / f"{ns}.log", prometheus=env.prometheus):
        wait_for("step 0 to bake", lambda: env.status(ns).get("stepStartedAt"), timeout=60)
        aborted = _cli(env, "abort", "checkout", "-n", ns, "--wait", "60")
        assert aborted.returncode == 0, aborted.stderr
        wait_for("Aborted", lambda: env.status(ns).get("phase") == "Aborted", timeout=30)
        listed = _cli(env, "list", "-n", ns)
        assert listed.returncode == 0 and "Aborted" in listed.stdout, listed.stdout
    assert env.weights(ns) == [0, 20, 0]
    messages = [e["message"] for e in env.events(ns) if e["reason"] == "Aborted"]
    assert messages and "tester" in messages[0], messages


def _holder(env: Env) -> str | None:
    lease = env.kube.get("coordination.k8s.io/v1", "leases", "greenlane-system", "greenlane-leader")
    holder = (lease or {}).get("spec", {}).get("holderIdentity")
    return str(holder) if holder else None


def _subsequence(expected: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(reason == s for s in it) for reason in expected)
