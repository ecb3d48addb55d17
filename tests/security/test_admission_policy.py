"""Issue 11's forged-identity attack against the ValidatingAdmissionPolicy the chart (and config/) ships:
its CEL, evaluated with cel-python and the Kubernetes CEL libraries (tests/model/apiserver.py), on
allowed and forged writes of the command annotation; and the chart rendering it with the real helm.
"""

from __future__ import annotations

import json
import re
from typing import Any

import celpy
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.kube.rollouts import CommandRequest
from controller.model import command
from tests.model.apiserver import evaluate, holds
from tests.ship.k8s_tools import REPO, K8sTools
from tests.ship.render import NAMESPACE, Obj, helm_template, of_kind, one, validate

Json = dict[str, Any]
AT = "2026-03-01T09:30:00.123456+00:00"


def annotation(user: str, *, kind: str = "pause", id: str = "0123456789ab", at: str = AT) -> str:
    """Exactly what the CLI writes (``CommandRequest.to_annotation``: compact JSON, keys in contract order)."""
    return CommandRequest(id=id, command=kind, user=user, at=at).to_annotation()


def rollout(value: str | None, **extra: str) -> Json:
    annotations = {**extra, **({command.ANNOTATION: value} if value is not None else {})}
    return {
        "apiVersion": "greenlane.dev/v1alpha1",
        "kind": "BlueGreenRollout",
        "metadata": {"name": "checkout", "namespace": "shop", "annotations": annotations},
        "spec": {},
    }


def admit(policy: Obj, user: str, new: Json, old: Json | None) -> list[str]:
    """The API server's verdict: the message of every failing validation ([] = admitted).

    Variables are evaluated lazily in order, as the API server does; an error in any expression denies
    (failurePolicy: Fail).
    """
    spec = policy["spec"]
    base: dict[str, Any] = {
        "object": celpy.adapter.json_to_cel(new),
        "oldObject": celpy.adapter.json_to_cel(old),
        "request": celpy.adapter.json_to_cel({"userInfo": {"username": user}, "operation": "UPDATE"}),
    }
    try:
        activation = {**base, "variables": _variables(spec, base)}
    except Exception as exc:  # failurePolicy: Fail
        return [f"Error: {exc}"]
    denied = []
    for rule in spec["validations"]:
        if not holds(rule["expression"], activation):
            message = rule.get("message") or str(evaluate(rule["messageExpression"], activation))
            denied.append(f"{rule['reason']}: {message}")
    assert spec["failurePolicy"] == "Fail"
    return denied


def _variables(spec: Json, base: dict[str, Any]) -> Any:
    """The policy's variables in order, each seeing the ones before it (``variables.command``…)."""
    variables = celpy.celtypes.MapType({})
    for variable in spec["variables"]:
        value = evaluate(variable["expression"], {**base, "variables": variables})
        variables = celpy.celtypes.MapType({**variables, celpy.celtypes.StringType(variable["name"]): value})
    return variables


@pytest.fixture(scope="module")
def chart(tools: K8sTools) -> list[Obj]:
    return helm_template(tools)


@pytest.fixture(scope="module")
def policy(chart: list[Obj]) -> Obj:
    return one(chart, "ValidatingAdmissionPolicy")


ALICE, BOB = "alice@example.com", "system:serviceaccount:ci:deployer"
OLD = rollout(annotation(BOB, id="aaaaaaaaaaaa", kind="pause"))
CASES: list[tuple[str, str, Json, Json | None, str | None]] = [
    # (name, requesting user, new object, old object, expected denial reason or None)
    ("own-command", ALICE, rollout(annotation(ALICE)), OLD, None),
    ("own-command-service-account", BOB, rollout(annotation(BOB, id="bbbbbbbbbbbb")), OLD, None),
    ("own-command-on-create", ALICE, rollout(annotation(ALICE)), None, None),
    ("utc-z-timestamp", ALICE, rollout(annotation(ALICE, at="2026-03-01T09:30:00Z")), OLD, None),
    ("unchanged-command-other-edit", ALICE, rollout(annotation(BOB, id="aaaaaaaaaaaa"), x="1"), OLD, None),
    ("operator-writes-finalizer", "system:serviceaccount:greenlane-system:greenlane", OLD, OLD, None),
    ("annotation-removed", ALICE, rollout(None), OLD, None),
    ("no-annotation-at-all", ALICE, rollout(None), rollout(None), None),
    ("forged-admin", ALICE, rollout(annotation("system:admin")), OLD, "Forbidden"),
    ("forged-other-user", ALICE, rollout(annotation(BOB, id="cccccccccccc")), OLD, "Forbidden"),
    ("forged-on-create", ALICE, rollout(annotation("system:admin")), None, "Forbidden"),
    (
        "copied-older-command-of-another-user",
        ALICE,
        rollout(annotation(BOB, id="aaaaaaaaaaaa")),
        rollout(annotation(BOB, id="dddddddddddd", kind="resume")),
        "Forbidden",
    ),
    (
        "duplicate-user-key",
        ALICE,
        rollout(annotation(ALICE).replace('","at":', '","user":"system:admin","at":')),
        OLD,
        "Invalid",
    ),
    (
        "escaped-quote-in-user",
        'alice","at":"x',
        rollout('{"id":"0123456789ab","command":"pause","user":"alice\\",\\"at\\":\\"x","at":"' + AT + '"}'),
        OLD,
        "Invalid",
    ),
    ("user-prefix-trick", "alice", rollout(annotation('alice","at":"' + AT)), OLD, "Invalid"),
    (
        "pretty-printed",
        ALICE,
        rollout(json.dumps({"id": "0123456789ab", "command": "pause", "user": ALICE, "at": AT})),
        OLD,
        "Invalid",
    ),
    ("trailing-newline", ALICE, rollout(annotation(ALICE) + "\n"), OLD, "Invalid"),
    ("trailing-text", ALICE, rollout(annotation(ALICE) + ' {"user":"' + ALICE + '"}'), OLD, "Invalid"),
    ("unknown-command", ALICE, rollout(annotation(ALICE, kind="delete")), OLD, "Invalid"),
    ("uppercase-id", ALICE, rollout(annotation(ALICE, id="0123456789AB")), OLD, "Invalid"),
    ("empty-user", "", rollout(annotation("")), OLD, "Invalid"),
    ("not-json", ALICE, rollout("pause please"), OLD, "Invalid"),
    ("non-ascii-user", "zoë", rollout(annotation("zoë")), OLD, None),  # written raw, compared raw
    (
        "non-ascii-user-escaped",
        "zoë",
        rollout(json.dumps({"id": "0123456789ab", "command": "pause", "user": "zoë", "at": AT}, separators=(",", ":"))),
        OLD,
        "Invalid",
    ),
    ("huge-value", ALICE, rollout(annotation(ALICE)[:-2] + " " * 2000 + '"}'), OLD, "Invalid"),
]


@pytest.mark.parametrize(("name", "user", "new", "old", "reason"), CASES, ids=[c[0] for c in CASES])
def test_the_policy_admits_own_commands_and_denies_forged_ones(
    policy: Obj, name: str, user: str, new: Json, old: Json | None, reason: str | None
) -> None:
    denied = admit(policy, user, new, old)
    if reason is None:
        assert denied == [], f"{name}: {denied}"
    else:
        assert denied and all(d.startswith(f"{reason}:") for d in denied), f"{name}: {denied}"


def test_a_forged_command_is_denied_with_both_names(policy: Obj) -> None:
    (denial,) = admit(policy, ALICE, rollout(annotation("system:admin")), OLD)
    assert denial == (
        'Forbidden: greenlane.dev/command records user "system:admin" but the request comes from '
        '"alice@example.com": commands are recorded as the user who sends them'
    )


def _policy_regex(policy: Obj) -> str:
    expression = next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "wellFormed")
    match = re.search(r"matches\(r'(.*)'\)", expression)
    assert match, expression
    return match.group(1)


def test_the_policy_uses_the_models_pattern_and_limits(policy: Obj) -> None:
    """One definition of the command's form: the chart's literal copy must equal the model's."""
    assert _policy_regex(policy) == command.PATTERN
    expression = next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "wellFormed")
    assert f"size() <= {command.MAX_LENGTH}" in expression


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.builds(annotation, st.text(min_size=0, max_size=20)),
        st.builds(
            lambda user, junk, cut: annotation(user)[:cut] + junk + annotation(user)[cut:],
            st.text(max_size=10),
            st.sampled_from(['"', "\\", ",", '"user":"', '","at":"', "}", "\n"]),
            st.integers(0, 120),
        ),
        st.text(max_size=80),
    )
)
def test_the_cel_and_the_model_read_every_value_alike(raw: str) -> None:
    """The operator side (controller/model/command.py) and the policy agree on form and user."""
    policy = _load_policy()
    activation = {
        "object": celpy.adapter.json_to_cel(rollout(raw)),
        "oldObject": celpy.adapter.json_to_cel(None),
        "request": celpy.adapter.json_to_cel({"userInfo": {"username": "u"}}),
    }
    variables = _variables(policy["spec"], activation)
    assert bool(variables["wellFormed"]) == command.well_formed(raw)
    assert (str(variables["user"]) or None) == command.recorded_user(raw)


def _load_policy() -> Obj:
    docs = list(yaml.safe_load_all((REPO / "config" / "admission" / "command_policy.yaml").read_text()))
    return one(docs, "ValidatingAdmissionPolicy")


def test_plain_manifests_ship_the_same_policy(policy: Obj, chart: list[Obj]) -> None:
    docs = list(yaml.safe_load_all((REPO / "config" / "admission" / "command_policy.yaml").read_text()))
    assert one(docs, "ValidatingAdmissionPolicy")["spec"] == policy["spec"]
    assert one(docs, "ValidatingAdmissionPolicyBinding")["spec"] == {
        **one(chart, "ValidatingAdmissionPolicyBinding")["spec"],
        "policyName": "greenlane-command-identity",
    }


def test_the_chart_renders_policy_and_binding(chart: list[Obj], policy: Obj, tools: K8sTools) -> None:
    binding = one(chart, "ValidatingAdmissionPolicyBinding")
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["bluegreenrollouts"], "status writes (a subresource) must not be matched"
    assert set(rule["operations"]) == {"CREATE", "UPDATE"}
    assert validate([policy, binding]) == []
    namespaced = helm_template(tools, {"scope": "namespaced", "watchNamespaces": "{shop,payments}"})
    selector = one(namespaced, "ValidatingAdmissionPolicyBinding")["spec"]["matchResources"]["namespaceSelector"]
    assert selector["matchExpressions"][0]["values"] == ["shop", "payments"]
    assert of_kind(helm_template(tools, {"commandIdentityPolicy.enabled": "false"}), "ValidatingAdmissionPolicy") == []


def test_the_chart_allowlist_and_network_policy(tools: K8sTools) -> None:
    values = {
        "prometheusUrl": "http://prometheus.monitoring:9090",
        "prometheusAllowedOrigins": "{https://thanos.monitoring:10902,http://mimir.monitoring:8080}",
        "networkPolicy.enabled": "true",
        "networkPolicy.apiServer.cidrs": "{10.0.0.1/32}",
        "networkPolicy.prometheus.peers[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name": "monitoring",
    }
    objects = helm_template(tools, values)
    args = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--prometheus-allowed-origin=https://thanos.monitoring:10902" in args
    assert "--prometheus-allowed-origin=http://mimir.monitoring:8080" in args
    policy = one(objects, "NetworkPolicy")
    assert validate([policy]) == []
    assert policy["metadata"]["namespace"] == NAMESPACE and policy["spec"]["policyTypes"] == ["Egress"]
    pods = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
    api, dns, prometheus = policy["spec"]["egress"]
    assert api["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert prometheus["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert all(rule["to"] for rule in policy["spec"]["egress"]), "an empty 'to' would allow every destination"
    assert of_kind(helm_template(tools), "NetworkPolicy") == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"networkPolicy.enabled": "true"}, "networkPolicy.apiServer.cidrs is required"),
        ({"networkPolicy.enabled": "true", "networkPolicy.apiServer.cidrs": "{10.0.0.1/32}"}, "prometheus.peers"),
        ({"prometheusAllowedOrigins": "{http://prom:9090/api}"}, "prometheusAllowedOrigins"),
    ],
)
def test_the_chart_refuses_incomplete_settings(tools: K8sTools, values: dict[str, str], message: str) -> None:
    import subprocess

    from tests.ship.render import CHART, set_args

    argv = [str(tools.helm), "template", "x", str(CHART), *set_args(values)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0 and message in done.stderr, done.stderr
