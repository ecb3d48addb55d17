"""RBAC: the chart and config/rbac grant exactly controller/kube/permissions.py, which is exactly what
the operator's code uses.

Rendered rules == declared list (no extra grant slips in, none is missing); every Kubernetes API call
found in the operator's code is covered by the declared list, and every declared permission is used by
some call (least privilege; scanner in api_calls.py). The CLI runs with a human's credentials: its
calls must be covered by the rollout-operator role, the read-only ones by rollout-viewer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import pytest
import yaml

from controller.kube.permissions import PERMISSIONS, allowed, by_scope, rbac_rules, triples
from tests.ship.api_calls import ApiUse, ScanResult, scan_source, scan_tree
from tests.ship.k8s_tools import REPO, K8sTools
from tests.ship.render import NAMESPACE, Obj, documents, helm_template, of_kind, one, run

Triple = tuple[str, str, str]


def rule_triples(rules: Iterable[dict[str, list[str]]]) -> list[Triple]:
    """Expand rules to sorted (group, resource, verb), rejecting wildcards and duplicates."""
    found: list[Triple] = []
    for rule in rules:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, f"unexpected rule keys: {rule}"
        for field in ("apiGroups", "resources", "verbs"):
            assert not any("*" in item for item in rule[field]), f"wildcard in {rule}"
        found += [(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]]
    assert len(found) == len(set(found)), "duplicate grants"
    return sorted(found)


def declared(scope: str) -> list[Triple]:
    return sorted(triples(by_scope("watched" if scope == "watched" else "release")))


def operator_roles(objects: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    roles = [o for o in objects if o["kind"] in ("ClusterRole", "Role")]
    watched = [r for r in roles if r["metadata"]["name"].endswith("-manager")]
    release = [r for r in roles if r["metadata"]["name"].endswith("-leader-election")]
    return watched, release


@pytest.mark.parametrize(
    "values", [{}, {"scope": "namespaced", "watchNamespaces": "{shop,payments}"}], ids=["cluster", "namespaced"]
)
def test_chart_grants_exactly_the_declared_permissions(tools: K8sTools, values: dict[str, str]) -> None:
    objects = helm_template(tools, values)
    watched, release = operator_roles(objects)
    assert watched, "no operator role rendered"
    for role in watched:
        assert rule_triples(role["rules"]) == declared("watched"), role["metadata"]
    (lease_role,) = release
    assert lease_role["kind"] == "Role" and lease_role["metadata"]["namespace"] == NAMESPACE
    assert rule_triples(lease_role["rules"]) == declared("release")
    bindings = [b for b in objects if b["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert len(bindings) == len(watched) + 1
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert subject == {
            "kind": "ServiceAccount",
            "name": one(objects, "ServiceAccount")["metadata"]["name"],
            "namespace": NAMESPACE,
        }


def test_no_role_in_the_chart_uses_wildcards(tools: K8sTools) -> None:
    objects = helm_template(tools, {"scope": "namespaced"}) + helm_template(tools)
    for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role"):
        rule_triples(role["rules"])


def test_config_rbac_grants_exactly_the_declared_permissions(tools: K8sTools) -> None:
    objects = documents(run([str(tools.kubectl), "kustomize", str(REPO / "config" / "rbac")]))
    watched, release = operator_roles(objects)
    assert [r["kind"] for r in watched] == ["ClusterRole"]
    assert rule_triples(watched[0]["rules"]) == declared("watched")
    assert rule_triples(release[0]["rules"]) == declared("release")
    assert watched[0]["rules"] == rbac_rules("watched")


def test_user_roles_let_on_call_patch_and_viewers_only_read(tools: K8sTools) -> None:
    for objects in (helm_template(tools), documents((REPO / "config/rbac/user_roles.yaml").read_text())):
        roles = {r["metadata"]["name"].removeprefix("greenlane-"): r for r in of_kind(objects, "ClusterRole")}
        operator = rule_triples(roles["rollout-operator"]["rules"])
        viewer = rule_triples(roles["rollout-viewer"]["rules"])
        for verb in ("create", "update", "patch", "delete"):  # aggregated into "edit": teams own their rollouts
            assert ("greenlane.dev", "bluegreenrollouts", verb) in operator, verb
        assert {v for _, _, v in viewer} == {"get", "list", "watch"}
        assert roles["rollout-operator"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
        assert roles["rollout-viewer"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"


def test_declared_permissions_cover_the_operator_contract() -> None:
    """The operator and routers rely on these; removing one breaks them at runtime."""
    for need in [
        ("greenlane.dev", "bluegreenrollouts", "watch"),  # through Watcher: the scanner must keep seeing it
        ("greenlane.dev", "bluegreenrollouts/status", "update"),
        ("coordination.k8s.io", "leases", "update"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "deployments/scale", "update"),
        ("", "events", "create"),
        ("", "secrets", "get"),
        ("networking.k8s.io", "ingresses", "create"),
        ("gateway.networking.k8s.io", "grpcroutes", "update"),
    ]:
        assert allowed(*need), need
    # The operator patches rollouts only to add and remove its finalizer (traffic back to blue before a
    # delete completes); commands are patched on by humans through the CLI.
    assert allowed("greenlane.dev", "bluegreenrollouts", "patch")
    assert not allowed("greenlane.dev", "bluegreenrollouts", "update")
    assert not any(verb in ("delete", "deletecollection") for _, _, verb in triples())
    assert len({(p.group, p.resource) for p in PERMISSIONS}) == len(PERMISSIONS)


# ---- the operator's code uses exactly the declared list -----------------------------------------

# The CLI runs with the invoking human's credentials (see the user roles), the sandbox with none.
CLI = "controller/cli/"
NOT_THE_OPERATOR = (CLI, "controller/sandbox/")


def controller_scan() -> ScanResult:
    result = scan_tree(REPO / "controller", base=REPO)
    assert result.unresolved == [], (
        "the scanner cannot tell what these need; use literals/constants or a "
        "'# rbac: group/resource verb' comment:\n" + "\n".join(map(str, result.unresolved))
    )
    return result


def operator_uses() -> list[ApiUse]:
    return [u for u in controller_scan().uses if not u.where.startswith(NOT_THE_OPERATOR)]


def listing(uses: Iterable[ApiUse]) -> str:
    return "\n".join(f"  {u.group or 'core'}/{u.resource} {u.verb}  ({u.where})" for u in sorted(set(uses)))


def test_controller_source_uses_only_declared_permissions() -> None:
    missing = [u for u in operator_uses() if not allowed(u.group, u.resource, u.verb)]
    assert missing == [], "add to controller/kube/permissions.py (and the chart, config/rbac):\n" + listing(missing)


def test_every_declared_permission_is_used_by_the_operator() -> None:
    """Least privilege: a grant no operator call needs is removed, not kept "just in case"."""
    used = {(u.group, u.resource, u.verb) for u in operator_uses()}
    unused = [
        f"  {p.group or 'core'}/{p.resource} {verb}  ({p.why})"
        for p in PERMISSIONS
        for verb in p.verbs
        if (p.group, p.resource, verb) not in used
    ]
    assert unused == [], (
        "declared in controller/kube/permissions.py but no operator code uses it; remove it (and from the "
        "chart, config/rbac), or teach tests/ship/api_calls.py the call it misses:\n" + "\n".join(unused)
    )


def test_user_roles_cover_what_the_cli_does(tools: K8sTools) -> None:
    """``greenlane get|list|promote…`` run as the human: rollout-operator must allow all of it, rollout-viewer
    the reads (``get``/``list``). The CLI reads rollouts through RolloutClient (operator code, whose
    get/list the scan attributes to the operator), so those two are named here; the rest is scanned."""
    through_rollout_client = {("greenlane.dev", "bluegreenrollouts", v) for v in ("get", "list")}
    cli = {(u.group, u.resource, u.verb) for u in controller_scan().uses if u.where.startswith(CLI)}
    assert ("greenlane.dev", "bluegreenrollouts", "patch") in cli, "the scanner no longer sees send_command"
    needs = cli | through_rollout_client
    reads = {t for t in needs if t[2] in ("get", "list", "watch")}
    for objects in (helm_template(tools), documents((REPO / "config/rbac/user_roles.yaml").read_text())):
        roles = {r["metadata"]["name"].removeprefix("greenlane-"): r for r in of_kind(objects, "ClusterRole")}
        operator = set(rule_triples(roles["rollout-operator"]["rules"]))
        viewer = set(rule_triples(roles["rollout-viewer"]["rules"]))
        assert needs - operator == set(), "rollout-operator lacks what the CLI uses"
        assert reads - viewer == set(), "rollout-viewer lacks what `greenlane get/list` read"


def scan(code: str) -> set[Triple]:
    result = scan_source(textwrap.dedent(code), "snippet.py")
    assert result.unresolved == []
    return result.triples()


def test_scanner_reads_typed_apis_and_watches() -> None:
    assert scan("""
        from kubernetes import client, watch
        core, apps = client.CoreV1Api(), client.AppsV1Api()
        for event in watch.Watch().stream(core.list_namespaced_pod, "shop"):
            pass
        apps.read_namespaced_deployment("checkout", "shop")
        apps.patch_namespaced_deployment_scale("checkout", "shop", {"spec": {"replicas": 2}})
        apps.list_replica_set_for_all_namespaces(watch=True)
        client.CoordinationV1Api().replace_namespaced_lease("greenlane-leader", "ops", body)
        client.EventsV1Api().create_namespaced_event("shop", body)
    """) == {
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("apps", "deployments", "get"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "replicasets", "list"),
        ("apps", "replicasets", "watch"),
        ("coordination.k8s.io", "leases", "update"),
        ("events.k8s.io", "events", "create"),
    }


def test_scanner_reads_custom_objects_through_constants() -> None:
    assert scan("""
        GROUP, PLURAL = "greenlane.dev", "bluegreenrollouts"
        GROUP = "greenlane.dev"
        PLURAL = "bluegreenrollouts"
        def write(api, ns, name, body):
            api.patch_namespaced_custom_object_status(GROUP, "v1alpha1", ns, PLURAL, name, body)
            api.list_cluster_custom_object(group="split.smi-spec.io", version="v1alpha2", plural="trafficsplits")
    """) == {("greenlane.dev", "bluegreenrollouts/status", "patch"), ("split.smi-spec.io", "trafficsplits", "list")}


def test_scanner_reads_the_dynamic_client() -> None:
    assert scan("""
        def steer(dyn, ns):
            routes = dyn.resources.get(api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute")
            route = routes.get(name="checkout", namespace=ns)
            dyn.patch(routes, body=[], name="checkout", namespace=ns, content_type="application/json-patch+json")
            ingresses = dyn.resources.get(api_version="networking.k8s.io/v1", kind="Ingress")
            ingresses.create(body={}, namespace=ns)
    """) == {
        ("gateway.networking.k8s.io", "httproutes", "get"),
        ("gateway.networking.k8s.io", "httproutes", "patch"),
        ("networking.k8s.io", "ingresses", "create"),
    }


def test_scanner_reads_raw_object_refs_like_the_routers() -> None:
    """The shape of controller/routing/gateway_api.py on the routers' branch."""
    assert scan("""
        API_VERSION = "gateway.networking.k8s.io/v1"
        _PLURALS = {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes"}
        class Router:
            def __init__(self, api_client, namespace, route, kind="HTTPRoute"):
                self._api = KubeApi(api_client)
                self._ref = ObjectRef(API_VERSION, _PLURALS[kind], kind, namespace, route)
            def get_weight(self):
                return fetch(self._api, self._ref)
            def set_weight(self, green):
                return update(self._api, self._ref, mutate, self._retry)
    """) == {("gateway.networking.k8s.io", p, v) for p in ("httproutes", "grpcroutes") for v in ("get", "update")}


def test_scanner_follows_a_list_function_into_a_watcher() -> None:
    """The shape of controller/kube/{watcher,manager}.py: the watch happens in another class."""
    assert scan("""
        from kubernetes import client, watch
        class Watcher:
            def __init__(self, name, list_fn, on_object):
                self._list = list_fn
            def _watch(self, version):
                for event in watch.Watch().stream(self._list, resource_version=version):
                    pass
        def watcher(api, namespace):
            custom = client.CustomObjectsApi(api)
            def list_fn(**kwargs):
                return custom.list_namespaced_custom_object("greenlane.dev", "v1", namespace, "bluegreenrollouts")
            pods = Watcher("pods", client.CoreV1Api(api).list_namespaced_pod, print)
            sets = Watcher("sets", lambda **kw: client.AppsV1Api(api).list_replica_set_for_all_namespaces(), print)
            return Watcher("rollouts", list_fn=list_fn, on_object=print)
        def not_watched(api):
            client.CoreV1Api(api).list_namespaced_secret("ns")
    """) == {
        ("greenlane.dev", "bluegreenrollouts", "list"),
        ("greenlane.dev", "bluegreenrollouts", "watch"),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("apps", "replicasets", "list"),
        ("apps", "replicasets", "watch"),
        ("", "secrets", "list"),
    }


def test_scanner_attributes_raw_scale_requests_to_the_subresource() -> None:
    """The shape of controller/routing/replicas.py: only /scale is read and written, never the Deployment."""
    assert scan("""
        class ReplicaRatioRouter:
            def __init__(self, api_client, namespace, blue):
                self._api = KubeApi(api_client)
                self._blue = ObjectRef("apps/v1", "deployments", "Deployment", namespace, blue)
            def _scale(self, ref, replicas):
                scale = self._api.get(ref, "scale")
                scale.setdefault("spec", {}).update({"replicas": replicas})  # dict.update: no API call
                self._api.replace(ref, scale, "scale")
    """) == {("apps", "deployments/scale", "get"), ("apps", "deployments/scale", "update")}


def test_scanner_reports_what_it_cannot_resolve_and_honours_pragmas() -> None:
    result = scan_source("def f(api, g, p):\n    api.get_namespaced_custom_object(g, 'v1', 'ns', p, 'x')\n", "x.py")
    assert [u.where for u in result.unresolved] == ["x.py:2"]
    pragma = scan_source("x = 1  # rbac: core/configmaps get,list\n", "y.py")
    assert pragma.triples() == {("", "configmaps", "get"), ("", "configmaps", "list")}


def test_scanner_flags_a_call_the_permissions_lack() -> None:
    uses = scan_source("from kubernetes import client\nclient.CoreV1Api().delete_namespaced_pod('p', 'ns')\n", "z.py")
    assert [(u.resource, u.verb) for u in uses.uses if not allowed(u.group, u.resource, u.verb)] == [("pods", "delete")]


def test_config_rbac_role_file_is_what_permissions_py_renders() -> None:
    role = yaml.safe_load((REPO / "config/rbac/role.yaml").read_text())
    assert role["rules"] == rbac_rules("watched")
