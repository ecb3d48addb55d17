"""Find the Kubernetes API calls in ``controller/`` and name the (group, resource, verb) each needs.

Why static analysis: RBAC mistakes surface only in a real cluster, as a 403 in the middle of a
rollout (typically the rollback path, which runs least). Scanning the source lets ``make test`` fail
the moment code starts using an API the declared permissions (``controller/kube/permissions.py``),
and therefore the chart, do not grant.

Recognised shapes (the ones the official client offers and this codebase uses):

- typed APIs: ``CoreV1Api().list_namespaced_pod``, ``AppsV1Api().patch_namespaced_deployment_scale``,
  ``read_…`` (get), ``replace_…`` (update), ``…_status``/``…_scale`` subresources, and
  ``watch.Watch().stream(api.list_…)`` (list + watch), also when the list function reaches ``stream``
  through a parameter: ``Watcher("rollouts", list_fn, …)`` where ``Watcher`` keeps ``list_fn`` and
  streams it (found across the scanned tree), and ``list_fn`` is a local function, lambda or bound
  ``api.list_…``;
- ``CustomObjectsApi`` ``…_custom_object[_status|_scale]`` with group/plural given as literals or
  module constants;
- the dynamic client: ``client.resources.get(api_version=…, kind=…)`` bound to a name, then
  ``name.get/patch/replace/create/watch`` or ``dyn.get(name, …)``;
- the raw ``ObjectRef(api_version, plural, …)`` + ``KubeApi``/``fetch``/``update`` helpers of
  ``controller/routing/kube_common.py`` (verbs attributed per module);
- an explicit ``# rbac: group/resource verb[,verb]`` comment (``core`` for the core group) for anything
  the scanner cannot see; each call it cannot resolve is reported, never silently passed.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

VERB_OF_PREFIX = {
    "list": "list",
    "read": "get",
    "get": "get",
    "create": "create",
    "patch": "patch",
    "replace": "update",
    "delete": "delete",
    "delete_collection": "deletecollection",
}
TYPED_METHOD = re.compile(
    r"^(?P<prefix>list|read|get|create|patch|replace|delete_collection|delete)_"
    r"(?:namespaced_)?(?P<kind>[a-z_]+?)"
    r"(?P<sub>_status|_scale)?(?:_for_all_namespaces)?$"
)
API_CLASS = re.compile(r"^(?P<name>[A-Z][A-Za-z]*?)V\d+(?:alpha\d+|beta\d+)?Api$")
GROUP_OF_API = {
    "Core": "",
    "Apps": "apps",
    "Networking": "networking.k8s.io",
    "Coordination": "coordination.k8s.io",
    "Events": "events.k8s.io",
    "Policy": "policy",
    "Batch": "batch",
    "Autoscaling": "autoscaling",
    "RbacAuthorization": "rbac.authorization.k8s.io",
    "Apiextensions": "apiextensions.k8s.io",
    "Authentication": "authentication.k8s.io",
}
# snake_case kind in typed method names -> (candidate groups, plural)
TYPED_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "pod": (("",), "pods"),
    "service": (("",), "services"),
    "secret": (("",), "secrets"),
    "config_map": (("",), "configmaps"),
    "namespace": (("",), "namespaces"),
    "node": (("",), "nodes"),
    "endpoints": (("",), "endpoints"),
    "service_account": (("",), "serviceaccounts"),
    "event": (("", "events.k8s.io"), "events"),
    "deployment": (("apps",), "deployments"),
    "replica_set": (("apps",), "replicasets"),
    "stateful_set": (("apps",), "statefulsets"),
    "daemon_set": (("apps",), "daemonsets"),
    "ingress": (("networking.k8s.io",), "ingresses"),
    "lease": (("coordination.k8s.io",), "leases"),
    "pod_disruption_budget": (("policy",), "poddisruptionbudgets"),
    "horizontal_pod_autoscaler": (("autoscaling",), "horizontalpodautoscalers"),
    "custom_resource_definition": (("apiextensions.k8s.io",), "customresourcedefinitions"),
    "self_subject_review": (("authentication.k8s.io",), "selfsubjectreviews"),
}
DYNAMIC_VERBS = {
    "get": "get",
    "patch": "patch",
    "replace": "update",
    "create": "create",
    "delete": "delete",
    "server_side_apply": "patch",
}
RAW_VERBS = {
    "get": ("get",),
    "replace": ("update",),
    "create": ("create",),
    "json_patch": ("patch",),
    "merge_patch": ("patch",),
    "list": ("list",),
}
RAW_HELPERS = {"fetch": ("get",), "update": ("get", "update")}
HTTP_VERBS = {"GET": "get", "PUT": "update", "POST": "create", "PATCH": "patch", "DELETE": "delete"}
PRAGMA = re.compile(r"#\s*rbac:\s*(?P<group>[\w.-]+)/(?P<resource>[\w/-]+)\s+(?P<verbs>[a-z,]+)")


@dataclass(frozen=True, order=True)
class ApiUse:
    group: str
    resource: str
    verb: str
    where: str = field(compare=False)


@dataclass(frozen=True)
class Unresolved:
    where: str
    what: str


@dataclass
class ScanResult:
    uses: list[ApiUse] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)

    def triples(self) -> set[tuple[str, str, str]]:
        return {(u.group, u.resource, u.verb) for u in self.uses}


Streamers = dict[str, set[tuple[int, str]]]
"""Callable name -> the (position, name) of each parameter it hands to ``watch.Watch().stream``."""


def scan_tree(root: Path, base: Path | None = None) -> ScanResult:
    result = ScanResult()
    paths = sorted(root.rglob("*.py"))
    streamers: Streamers = {}
    for path in paths:  # first pass: who streams what they are given (the Watcher class)
        for callee, params in stream_forwarders(ast.parse(path.read_text(), str(path))).items():
            streamers.setdefault(callee, set()).update(params)
    for path in paths:
        name = str(path.relative_to(base)) if base else str(path)
        scan_source(path.read_text(), name, result, streamers)
    return result


def scan_source(
    source: str, filename: str, result: ScanResult | None = None, streamers: Streamers | None = None
) -> ScanResult:
    result = result if result is not None else ScanResult()
    tree = ast.parse(source, filename)
    known = {**stream_forwarders(tree), **(streamers or {})}
    _ModuleScan(tree, filename, result, known).run()
    for lineno, line in enumerate(source.splitlines(), 1):
        if m := PRAGMA.search(line):
            group = "" if m["group"] == "core" else m["group"]
            for verb in m["verbs"].split(","):
                result.uses.append(ApiUse(group, m["resource"], verb, f"{filename}:{lineno}"))
    return result


def stream_forwarders(tree: ast.Module) -> Streamers:
    """Functions and classes that pass one of their parameters to ``….stream(…)``.

    ``def follow(list_fn): w.stream(list_fn)`` forwards ``list_fn``; so does a class whose ``__init__``
    stores a parameter on ``self`` (``self._list = list_fn``) when a method streams ``self._list``.
    """
    found: Streamers = {}

    def streamed_args(scope: ast.AST) -> set[str]:
        return {ast.unparse(a) for c in _calls(scope) if _attr(c.func) == "stream" for a in c.args[:1]}

    def params(func: ast.FunctionDef | ast.AsyncFunctionDef, skip_self: bool) -> list[str]:
        names = [a.arg for a in func.args.posonlyargs + func.args.args]
        return names[1:] if skip_self else names

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            streamed = streamed_args(node)
            for index, name in enumerate(params(node, skip_self=False)):
                if name in streamed:
                    found.setdefault(node.name, set()).add((index, name))
        elif isinstance(node, ast.ClassDef):
            streamed = streamed_args(node)
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            if init is None:
                continue
            names = params(init, skip_self=True)
            for assign in ast.walk(init):
                if isinstance(assign, ast.Assign | ast.AnnAssign) and isinstance(assign.value, ast.Name):
                    targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
                    if assign.value.id in names and any(ast.unparse(t) in streamed for t in targets):
                        found.setdefault(node.name, set()).add((names.index(assign.value.id), assign.value.id))
    return found


def pluralize(kind: str) -> str:
    word = kind.lower()
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


class _ModuleScan:
    def __init__(self, tree: ast.Module, filename: str, result: ScanResult, streamers: Streamers) -> None:
        self.tree, self.filename, self.result, self.streamers = tree, filename, result, streamers
        self.constants = _string_constants(tree)
        self.api_groups = {g for node in ast.walk(tree) for ident in _identifiers(node) if (g := _api_group(ident))}
        self.receivers = _api_receivers(tree)

    def where(self, node: ast.AST) -> str:
        return f"{self.filename}:{getattr(node, 'lineno', 0)}"

    def use(self, group: str, resource: str, verbs: Iterable[str], node: ast.AST) -> None:
        self.result.uses.extend(ApiUse(group, resource, verb, self.where(node)) for verb in verbs)

    def unresolved(self, node: ast.AST, what: str) -> None:
        self.result.unresolved.append(Unresolved(self.where(node), what))

    def run(self) -> None:
        streamed = {id(node) for arg in self.streamed_args() for node in self.list_functions(arg)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and (m := TYPED_METHOD.match(node.attr)):
                self.typed(node, m, watched=id(node) in streamed)
        self.dynamic()
        self.raw_refs()

    def streamed_args(self) -> Iterator[ast.expr]:
        """Arguments that end up in ``watch.Watch().stream``: directly, or through a known forwarder."""
        for call in _calls(self.tree):
            if _attr(call.func) == "stream":
                yield from call.args[:1]
            for index, name in self.streamers.get(_name(call.func) or "", ()):
                if (arg := _arg(call, index, name)) is not None:
                    yield arg

    def list_functions(self, arg: ast.expr) -> Iterator[ast.AST]:
        """The nodes an argument stands for: itself, a lambda's body, or a local function's body."""
        yield arg
        if isinstance(arg, ast.Lambda):
            yield from ast.walk(arg.body)
        elif isinstance(arg, ast.Name):
            for func in ast.walk(self.tree):
                if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) and func.name == arg.id:
                    for statement in func.body:
                        yield from ast.walk(statement)

    def typed(self, node: ast.Attribute, m: re.Match[str], *, watched: bool) -> None:
        kind, sub = m["kind"], (m["sub"] or "").lstrip("_")
        verbs = [VERB_OF_PREFIX[m["prefix"]]] + (["watch"] if watched else [])
        call = self.call_of(node)
        if call is not None and any(k.arg == "watch" and _truthy(k.value) for k in call.keywords):
            verbs.append("watch")
        if kind.endswith("custom_object"):
            self.custom_object(node, call, kind, sub, verbs)
            return
        if m["prefix"] == "get":  # typed APIs say read_; get_ is CustomObjectsApi only (or not an API call)
            return
        if kind not in TYPED_KINDS:
            if "api" in ast.unparse(node.value).lower():
                self.unresolved(node, f"{node.attr}: unknown kind {kind!r}; add it to TYPED_KINDS")
            return
        groups, plural = TYPED_KINDS[kind]
        receiver = ast.unparse(node.value)
        known = (
            {self.receivers[receiver]}
            if receiver in self.receivers
            else {g for ident in re.findall(r"\w+", receiver) if (g := _api_group(ident)) is not None}
            or self.api_groups
        )
        chosen = [g for g in groups if g in known] or list(groups)
        for group in chosen:
            self.use(group, f"{plural}/{sub}" if sub else plural, verbs, node)

    def custom_object(self, node: ast.Attribute, call: ast.Call | None, kind: str, sub: str, verbs: list[str]) -> None:
        if call is None:
            self.unresolved(node, f"{node.attr} referenced but not called here; cannot see group/plural")
            return
        namespaced = "namespaced" in node.attr
        plural_at = 3 if namespaced else 2
        group = self.resolve(_arg(call, 0, "group"))
        plurals = self.resolve_many(_arg(call, plural_at, "plural") or _arg(call, plural_at, "resource_plural"))
        if group is None or not plurals:
            self.unresolved(node, f"{node.attr}: group/plural are not literals or module constants")
            return
        for plural in plurals:
            self.use(group, f"{plural}/{sub}" if sub else plural, verbs, node)

    def call_of(self, attr: ast.Attribute) -> ast.Call | None:
        for call in _calls(self.tree):
            if call.func is attr:
                return call
        return None

    def resolve(self, node: ast.expr | None) -> str | None:
        values = self.resolve_many(node)
        return values[0] if len(values) == 1 else None

    def resolve_many(self, node: ast.expr | None) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if isinstance(node, ast.Subscript):  # PLURALS[kind]: every value the mapping can give
            name = node.value.id if isinstance(node.value, ast.Name) else None
        return list(self.constants.get(name, ())) if name else []

    def dynamic(self) -> None:
        bound: dict[str, tuple[str, str]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _is_resources_get(node.value):
                api_version = self.resolve(_kwarg(node.value, "api_version"))
                kind = self.resolve(_kwarg(node.value, "kind"))
                if api_version is None or kind is None:
                    self.unresolved(node, "resources.get(): api_version/kind are not literals or constants")
                    continue
                group = api_version.rpartition("/")[0]
                for target in node.targets:
                    if isinstance(target, ast.Name | ast.Attribute):
                        bound[ast.unparse(target)] = (group, pluralize(kind))
        for call in _calls(self.tree):
            method = _attr(call.func)
            if method not in (*DYNAMIC_VERBS, "watch") or not isinstance(call.func, ast.Attribute):
                continue
            receiver = ast.unparse(call.func.value)
            used = (
                receiver
                if receiver in bound
                else next(
                    (
                        ast.unparse(a)
                        for a in [*call.args[:1], _kwarg(call, "resource")]
                        if a is not None and ast.unparse(a).removesuffix(".status") in bound
                    ),
                    None,
                )
            )
            if used is None:
                continue
            sub = "/status" if used.endswith(".status") else ""
            group, plural = bound[used.removesuffix(".status")]
            verbs = ["list", "watch"] if method == "watch" else [DYNAMIC_VERBS[method]]
            if method == "get" and _kwarg(call, "name") is None and len(call.args) < (1 if receiver in bound else 2):
                verbs = ["list"]
            self.use(group, plural + sub, verbs, call)

    def raw_refs(self) -> None:
        refs: list[tuple[str, str, ast.AST]] = []
        for call in _calls(self.tree):
            if _name(call.func) == "ObjectRef":
                api_version = self.resolve(_arg(call, 0, "api_version"))
                plurals = self.resolve_many(_arg(call, 1, "plural"))
                if api_version is None or not plurals:
                    self.unresolved(call, "ObjectRef(): api_version/plural are not literals or module constants")
                    continue
                group = api_version.rpartition("/")[0] if "/" in api_version else ""
                refs += [(group, plural, call) for plural in plurals]
        if not refs:
            return
        verbs: set[tuple[str, str]] = set()  # (verb, subresource or "")
        for call in _calls(self.tree):
            helper = call.func.id if isinstance(call.func, ast.Name) else None  # fetch(…), not dict.update(…)
            method = _attr(call.func)
            sub = _subresource(call)
            if helper in RAW_HELPERS:
                verbs.update((v, sub) for v in RAW_HELPERS[helper])
            elif isinstance(call.func, ast.Attribute) and "api" in ast.unparse(call.func.value).lower():
                if method in RAW_VERBS:
                    verbs.update((v, sub) for v in RAW_VERBS[method])
                elif method == "request" and (http := self.resolve(_arg(call, 0, "method"))) in HTTP_VERBS:
                    verbs.add((HTTP_VERBS[http], sub))
        for group, plural, node in refs:
            for verb, sub in sorted(verbs):
                self.use(group, f"{plural}/{sub}" if sub else plural, [verb], node)


def _subresource(call: ast.Call) -> str:
    """``"scale"``/``"status"`` passed to a raw helper: the verb applies to that subresource."""
    for node in [*call.args, *(k.value for k in call.keywords)]:
        if isinstance(node, ast.Constant) and node.value in ("scale", "status"):
            return str(node.value)
    return ""


def _string_constants(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        targets: list[ast.expr] = (
            node.targets if isinstance(node, ast.Assign) else ([node.target] if isinstance(node, ast.AnnAssign) else [])
        )
        value = getattr(node, "value", None)
        strings: tuple[str, ...] = ()
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            strings = (value.value,)
        elif isinstance(value, ast.Dict):
            strings = tuple(v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        for target in targets:
            if isinstance(target, ast.Name) and strings:
                found[target.id] = strings
    for node in tree.body:  # string constants imported from our own modules, e.g. the CRD's GROUP and PLURAL
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("controller."):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if isinstance(value, str):
                    found[alias.asname or alias.name] = (value,)
    for func in ast.walk(tree):  # a parameter's string default, e.g. api_version="networking.istio.io/v1"
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = func.args.posonlyargs + func.args.args
            pairs = [
                *zip(positional[len(positional) - len(func.args.defaults) :], func.args.defaults, strict=True),
                *zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True),
            ]
            for arg, default in pairs:
                if isinstance(default, ast.Constant) and isinstance(default.value, str):
                    found.setdefault(arg.arg, (default.value,))
    return found


def _api_group(identifier: str) -> str | None:
    m = API_CLASS.match(identifier)
    return GROUP_OF_API.get(m["name"]) if m else None


def _api_receivers(tree: ast.Module) -> dict[str, str]:
    """``core = client.CoreV1Api()`` (also in tuples and on ``self.``): receiver text -> API group."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            pairs = (
                zip(target.elts, node.value.elts, strict=False)
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                else [(target, node.value)]
            )
            for name, value in pairs:
                if isinstance(value, ast.Call) and (group := _api_group(_name(value.func) or "")) is not None:
                    found[ast.unparse(name)] = group
    return found


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.alias):
        yield node.name.rpartition(".")[2]


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _attr(node: ast.expr) -> str | None:
    return node.attr if isinstance(node, ast.Attribute) else None


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _arg(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return _kwarg(call, keyword)


def _kwarg(call: ast.Call, keyword: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _truthy(node: ast.expr) -> bool:
    return not (isinstance(node, ast.Constant) and not node.value)


def _is_resources_get(call: ast.Call) -> bool:
    return _attr(call.func) == "get" and isinstance(call.func, ast.Attribute) and _attr(call.func.value) == "resources"
