"""A corpus of malformed manifests, each with the message ``greenlane validate`` must give for it.

Two kinds: raw YAML that is hostile or broken before it is a manifest (bombs, nesting, keys, tags,
encodings), and the valid sample with one field made wrong (every bound, charset and type rule of the
model). ``test_corpus.py`` checks every entry; the list is data, so adding a case is one line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from controller.model import limits
from tests.model.broken import sample

ZWSP, CYRILLIC_A = "\u200b", "\u0430"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: str
    bounded: bool = False
    """The loader's own bound refused it (same message from the libyaml and the pure-Python parser)."""


def _bomb(levels: int, fanout: int) -> str:
    lines = ["l0: &l0 [" + ",".join(['"lol"'] * fanout) + "]"]
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * fanout) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int, fanout: int) -> str:
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: {i}" for i in range(fanout)) + "}"]
    lines += [f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * fanout) + "]}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _deep_alias() -> str:
    """Each level is shallow in the text but an alias makes it one deeper than the last."""
    lines = ["d0: &d0 [x]"] + [f"d{i}: &d{i} [*d{i - 1}]" for i in range(1, 80)]
    return "\n".join(lines) + "\n"


def _with(path: list[str | int], value: Any) -> str:
    doc = copy.deepcopy(sample())
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return yaml.safe_dump(doc, allow_unicode=True, width=10**9)


def _without(path: list[str | int]) -> str:
    doc = copy.deepcopy(sample())
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return yaml.safe_dump(doc, width=10**9)


HEAD = "apiVersion: greenlane.dev/v1alpha1\nkind: BlueGreenRollout\nmetadata: {name: x, namespace: shop}\n"
RAW: list[Case] = [
    Case("billion-laughs-342-bytes", _bomb(9, 9), "expands to more than 50000 values", True),
    Case("laughs-wide", _bomb(4, 300), "expands to more than 50000 values", True),
    Case("laughs-deep-narrow", _bomb(40, 2), "expands to more than 50000 values", True),
    Case("merge-key-bomb", _merge_bomb(8, 10), "expands to more than 50000 values", True),
    Case("merge-key-bomb-wide", _merge_bomb(3, 400), "expands to more than 50000 values", True),
    Case("alias-into-itself", "a: &a [1, *a]\n", "alias *a refers to a node that contains it", True),
    Case("alias-into-parent", "a: &a {b: [*a]}\n", "alias *a refers to a node that contains it", True),
    Case("deep-through-aliases", _deep_alias(), "nested deeper than 64 levels through an alias", True),
    Case(
        "deep-block-mapping",
        "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "x: 1\n",
        "nested deeper than 64 levels",
        True,
    ),
    Case(
        "deep-block-sequence",
        "".join("  " * i + "-\n" for i in range(100)) + "  " * 100 + "- x\n",
        "nested deeper than 64 levels",
        True,
    ),
    Case("deep-flow-mapping", "a: " + "{b: " * 100 + "1" + "}" * 100 + "\n", "nested deeper than 64 levels", True),
    Case("deep-flow-mixed", "a: " + "[{b: " * 50 + "1" + "}]" * 50 + "\n", "nested deeper than 64 levels", True),
    Case(
        "many-small-nodes",
        "a: [" + ",".join("1" * 1 for _ in range(60_000)) + "]\n",
        "expands to more than 50000 values",
        True,
    ),
    Case("undefined-alias", "a: *nowhere\n", "not valid YAML at line 1"),
    Case("duplicate-anchor", "a: &x 1\nb: &x 2\nc: *x\n", "not valid YAML at line 2"),
    Case("duplicate-key", HEAD + "spec: {}\nspec: {}\n", "duplicate key 'spec'"),
    Case("duplicate-nested-key", HEAD + "spec:\n  steps: []\n  steps: []\n", "line 6, column 3: duplicate key 'steps'"),
    Case("duplicate-key-after-merge", "base: &b {x: 1}\nc:\n  <<: *b\n  y: 1\n  y: 2\n", "duplicate key 'y'"),
    Case("two-merge-keys", "b: &b {x: 1}\nc: {<<: *b, <<: *b}\n", "line 2, column 13: duplicate key <<"),
    Case("merge-of-a-scalar", "c: {<<: 5}\n", "expected a mapping or list of mappings for merging"),
    Case("list-as-key", "? [a, b]\n: 1\n", "line 1, column 3: a mapping or list cannot be a key"),
    Case("mapping-as-key", "? {a: 1}\n: 1\n", "a mapping or list cannot be a key"),
    Case("impossible-date", "a: 2024-13-45\n", "cannot read this value: month must be in 1..12"),
    Case("5000-digit-integer", "a: " + "9" * 5000 + "\n", "cannot read this value: Exceeds the limit"),
    Case("python-object-tag", "a: !!python/object:os.system {}\n", "could not determine a constructor"),
    Case("python-name-tag", "a: !!python/name:os.system\n", "could not determine a constructor"),
    Case("bad-binary", "a: !!binary 'a'\n", "failed to decode base64"),
    Case("nul-byte", HEAD + "spec: {a: \x00}\n", "not valid YAML at line 4: character #x0000 is not allowed"),
    Case("escape-byte", "a: \x1b[31m\n", "character #x001b is not allowed"),
    Case("tab-indentation", "spec:\n\tsteps: []\n", "not valid YAML at line 2"),
    Case("unterminated-quote", 'a: "open\n', "not valid YAML"),
    Case("unclosed-flow", "spec: [1, 2\n", "not valid YAML at line 2"),
    Case("bad-indentation", "a:\n  b: 1\n c: 2\n", "not valid YAML at line 3"),
    Case(
        "document-too-large",
        HEAD + "spec: {query: '" + "x" * (limits.MAX_OBJECT_BYTES + 10) + "'}\n",
        "the document starting at line 1 is 1.5 MiB; Kubernetes stores objects of at most 1.5 MiB",
    ),
    Case(
        "second-document-too-large",
        HEAD + "spec: {}\n---\n" + "a: '" + "x" * (2 * 2**20) + "'\n",
        "the document starting at line 5 is 2.0 MiB",
    ),
    Case("input-too-large", "a: 1\n---\n" * (limits.MAX_INPUT_BYTES // 8), "input is 9.0 MiB; greenlane reads at most"),
    Case("empty", "", "contains no resources"),
    Case("only-comments", "# nothing\n---\n# here\n", "contains no resources"),
    Case("a-list", "- a\n- b\n", "(document): expected a mapping"),
    Case("a-scalar", "just text\n", "(document): expected a mapping"),
    Case(
        "wrong-kind",
        "apiVersion: greenlane.dev/v1alpha1\nkind: Rollout\nmetadata: {name: x}\n",
        "kind: must be 'BlueGreenRollout'",
    ),
    Case(
        "wrong-api-version",
        "apiVersion: greenlane.dev/v1\nkind: BlueGreenRollout\nmetadata: {name: x}\n",
        "apiVersion: must be 'greenlane.dev/v1alpha1'",
    ),
    Case("no-spec", HEAD, "spec: required field is missing"),
    Case("spec-is-a-list", HEAD + "spec: [1]\n", "spec: expected a mapping"),
]

Path = list[str | int]
S: Path = ["spec"]
A: Path = ["spec", "analysis"]
P: Path = [*A, "prometheus"]
C: Path = [*A, "checks"]
R: Path = ["spec", "trafficRouting"]
HAPROXY = {"socket": "/run/haproxy/admin.sock", "backend": "app", "blueServer": "blue", "greenServer": "green"}
MUTATIONS: list[tuple[str, list[str | int], Any, str]] = [
    # durations: minimums, maximums, overflow, spelling
    ("interval-zero", [*A, "interval"], "0s", "spec.analysis.interval: must be between 1s and 1h"),
    ("interval-500ms", [*A, "interval"], "500ms", "spec.analysis.interval: must be between 1s and 1h"),
    ("interval-2h", [*A, "interval"], "2h", "spec.analysis.interval: must be between 1s and 1h"),
    ("interval-number", [*A, "interval"], 30, "spec.analysis.interval: invalid duration"),
    ("interval-words", [*A, "interval"], "30 seconds", "spec.analysis.interval: invalid duration"),
    ("interval-negative", [*A, "interval"], "-30s", "spec.analysis.interval: invalid duration"),
    ("interval-unordered", [*A, "interval"], "30s1m", "spec.analysis.interval: invalid duration"),
    ("interval-weeks", [*A, "interval"], "1w", "spec.analysis.interval: invalid duration"),
    ("timeout-zero", [*P, "timeout"], "0s", "spec.analysis.prometheus.timeout: must be between 1s and 5m"),
    ("timeout-hour", [*P, "timeout"], "1h", "spec.analysis.prometheus.timeout: must be between 1s and 5m"),
    ("window-zero", [*C, 2, "window"], "0s", "spec.analysis.checks[2].window: must be between 10s and 1d"),
    ("window-5s", [*C, 2, "window"], "5s", "spec.analysis.checks[2].window: must be between 10s and 1d"),
    ("window-week", [*C, 2, "window"], "7d", "spec.analysis.checks[2].window: must be between 10s and 1d"),
    ("warmup-2d", [*A, "warmup"], "2d", "spec.analysis.warmup: must be between 0s and 1d"),
    ("maxhold-30d", [*A, "maxHold"], "30d", "spec.analysis.maxHold: must be between 0s and 7d"),
    ("pause-overflow", [*S, "steps", 0, "pause"], "99999999999d", "spec.steps[0].pause: invalid duration"),
    ("pause-year", [*S, "steps", 0, "pause"], "365d", "spec.steps[0].pause: must be between 0s and 7d"),
    ("pause-fraction-days", [*S, "steps", 0, "pause"], "1.5d", "spec.steps[0].pause: invalid duration"),
    ("pause-manually", [*S, "steps", 0, "pause"], "Manual", "spec.steps[0].pause: invalid duration"),
    ("pause-many-decimals", [*S, "steps", 0, "pause"], "1.0001s", "spec.steps[0].pause: invalid duration"),
    (
        "scale-down-year",
        ["spec", "promotion", "scaleDownBlueAfter"],
        "365d",
        "spec.promotion.scaleDownBlueAfter: must be between 0s and 30d",
    ),
    # counts
    ("failure-limit-zero", [*A, "failureLimit"], 0, "spec.analysis.failureLimit: must be greater than or equal to 1"),
    ("failure-limit-1e20", [*A, "failureLimit"], 10**20, "spec.analysis.failureLimit: must be less than or equal"),
    ("failure-limit-string", [*A, "failureLimit"], "1e20", "spec.analysis.failureLimit: expected an integer"),
    ("failure-limit-fraction", [*A, "failureLimit"], 2.5, "spec.analysis.failureLimit: expected an integer"),
    ("failure-limit-bool", [*A, "failureLimit"], True, "spec.analysis.failureLimit: expected an integer"),
    ("required-passes-1000", [*A, "requiredPasses"], 1000, "spec.analysis.requiredPasses: must be less than or equal"),
    ("min-requests-negative", [*C, 1, "minRequests"], -1, "spec.analysis.checks[1].minRequests: must be greater"),
    ("min-requests-huge", [*C, 1, "minRequests"], 10**12, "spec.analysis.checks[1].minRequests: must be less"),
    ("weight-negative", [*S, "steps", 0, "weight"], -5, "spec.steps[0].weight: must be greater than or equal to 0"),
    ("weight-101", [*S, "steps", 3, "weight"], 101, "spec.steps[3].weight: must be less than or equal to 100"),
    ("replicas-zero", R, {"replicas": {"totalReplicas": 0}}, "spec.trafficRouting.replicas.totalReplicas: must be"),
    ("replicas-million", R, {"replicas": {"totalReplicas": 10**6}}, "trafficRouting.replicas.totalReplicas: must be"),
    ("too-many-steps", [*S, "steps"], [{"weight": 100}] * 21, "spec.steps: list should have at most 20 items"),
    ("no-steps", [*S, "steps"], [], "spec.steps: list should have at least 1 item"),
    (
        "too-many-checks",
        [*A, "checks"],
        [{"name": f"c{i}", "query": "up", "max": 1} for i in range(33)],
        "spec.analysis.checks: list should have at most 32 items",
    ),
    # thresholds
    ("max-nan", [*C, 1, "max"], float("nan"), "spec.analysis.checks[1].max: must be a finite number"),
    ("max-inf", [*C, 1, "max"], float("inf"), "spec.analysis.checks[1].max: must be a finite number"),
    ("min-minus-inf", [*C, 1, "min"], float("-inf"), "spec.analysis.checks[1].min: must be a finite number"),
    ("ratio-nan", [*C, 0, "maxRatioToBlue"], float("nan"), "checks[0].maxRatioToBlue: must be a finite number"),
    ("ratio-zero", [*C, 0, "maxRatioToBlue"], 0, "checks[0].maxRatioToBlue: must be greater than 0"),
    ("increase-inf", [*C, 1, "maxIncreaseOverBlue"], float("inf"), "maxIncreaseOverBlue: must be a finite number"),
    ("quantile-one", [*C, 0, "quantile"], 1.0, "spec.analysis.checks[0].quantile: must be less than 1"),
    ("quantile-nan", [*C, 0, "quantile"], float("nan"), "spec.analysis.checks[0].quantile:"),
    ("max-as-text", [*C, 1, "max"], "0.01", "spec.analysis.checks[1].max: expected a number"),
    ("slope-overflow", [*C, 2, "maxSlopeOverBlue"], "1" * 400 + "/h", "maxSlopeOverBlue: invalid slope"),
    ("slope-negative", [*C, 2, "maxSlopeOverBlue"], "-5Mi/h", "maxSlopeOverBlue: invalid slope"),
    # queries
    (
        "query-malformed-variable",
        [*C, 4, "query"],
        'sum(up{pod=~"{{ pods"} or vector(1) }}"})',
        "spec.analysis.checks[4].query: malformed template",
    ),
    ("query-triple-brace", [*C, 4, "query"], "sum(up{{{ pods }})", "checks[4].query: malformed template"),
    ("query-stray-close", [*C, 4, "query"], "sum(up) }}", "checks[4].query: malformed template"),
    ("query-unknown-variable", [*C, 4, "query"], "sum(up{pod=~'{{ pod }}'})", "unknown template variable(s) ['pod']"),
    ("query-4097", [*C, 4, "query"], "x" * 4097, "spec.analysis.checks[4].query: query is 4097 characters"),
    ("query-empty", [*C, 4, "query"], "", "spec.analysis.checks[4].query: query is empty"),
    ("query-not-text", [*C, 4, "query"], ["up"], "spec.analysis.checks[4].query:"),
    # headers
    ("header-crlf", [*P, "headers"], {"X-Org": "a\r\nX-Evil: 1"}, "analysis.prometheus.headers.X-Org: header values"),
    ("header-lf", [*P, "headers"], {"X-Org": "a\nb"}, "prometheus.headers.X-Org: header values"),
    ("header-nul", [*P, "headers"], {"X-Org": "a\x00b"}, "prometheus.headers.X-Org: header values"),
    ("header-name-space", [*P, "headers"], {"X Org": "a"}, "header names are letters, digits"),
    ("header-name-colon", [*P, "headers"], {"X-Org:": "a"}, "header names are letters, digits"),
    ("header-name-unicode", [*P, "headers"], {f"X-Org{ZWSP}": "a"}, "header names are letters, digits"),
    ("header-authorization", [*P, "headers"], {"Authorization": "Bearer t"}, "headers.Authorization: Authorization"),
    ("header-host", [*P, "headers"], {"host": "evil"}, "headers.host: host may not be set here"),
    ("header-leading-space", [*P, "headers"], {"X-Org": " a"}, "headers.X-Org: header values"),
    ("header-too-many", [*P, "headers"], {f"X-{i}": "v" for i in range(17)}, "prometheus.headers: at most 16"),
    ("header-value-long", [*P, "headers"], {"X-Org": "a" * 1025}, "headers.X-Org: header values"),
    ("header-value-number", [*P, "headers"], {"X-Org": 5}, "spec.analysis.prometheus.headers.X-Org:"),
    # addresses and Secrets
    ("address-userinfo", [*P, "address"], "http://allowed@evil:9090", "spec.analysis.prometheus.address: must be"),
    ("address-file", [*P, "address"], "file:///etc/passwd", "spec.analysis.prometheus.address: must be"),
    ("address-port", [*P, "address"], "http://prom:65536", "spec.analysis.prometheus.address: must be"),
    ("address-space", [*P, "address"], "http://prom :9090", "spec.analysis.prometheus.address: must be"),
    ("address-query", [*P, "address"], "http://prom:9090/?redirect=evil", "spec.analysis.prometheus.address: must"),
    ("address-newline", [*P, "address"], "http://prom:9090/\nX: 1", "spec.analysis.prometheus.address: must be"),
    ("address-long", [*P, "address"], "http://p/" + "a" * 2048, "spec.analysis.prometheus.address: must be"),
    (
        "secret-key-traversal",
        [*P, "bearerTokenSecret"],
        {"name": "reader", "key": "../token"},
        "bearerTokenSecret.key: must be letters, digits",
    ),
    ("secret-key-empty", [*P, "caSecret"], {"name": "ca", "key": ""}, "caSecret.key: must be letters, digits"),
    ("secret-name-upper", [*P, "bearerTokenSecret"], {"name": "Reader", "key": "t"}, "bearerTokenSecret.name: must be"),
    ("basic-auth-extra", [*P, "basicAuthSecret"], {"name": "b", "key": "x"}, "basicAuthSecret.key: unknown field"),
    # names: ASCII only, safe charsets
    ("rule-zero-width", [*R, "gatewayAPI", "rule"], f"ma{ZWSP}in", "spec.trafficRouting.gatewayAPI.rule: must be"),
    ("rule-cyrillic", [*R, "gatewayAPI", "rule"], f"m{CYRILLIC_A}in", "spec.trafficRouting.gatewayAPI.rule: must be"),
    ("rule-upper", [*R, "gatewayAPI", "rule"], "Main", "spec.trafficRouting.gatewayAPI.rule: must be"),
    (
        "istio-route-zero-width",
        R,
        {"istio": {"virtualService": "vs", "route": f"pri{ZWSP}mary"}},
        "spec.trafficRouting.istio.route: must be ASCII",
    ),
    ("istio-route-space", R, {"istio": {"virtualService": "vs", "route": "pri mary"}}, "trafficRouting.istio.route:"),
    (
        "haproxy-backend-semicolon",
        R,
        {"haproxy": {**HAPROXY, "backend": "app;disable server app/blue"}},
        "spec.trafficRouting.haproxy.backend: must be letters",
    ),
    (
        "haproxy-server-newline",
        R,
        {"haproxy": {**HAPROXY, "greenServer": "green\nshutdown sessions"}},
        "spec.trafficRouting.haproxy.greenServer: must be letters",
    ),
    ("haproxy-server-space", R, {"haproxy": {**HAPROXY, "blueServer": "blue server"}}, "haproxy.blueServer: must be"),
    ("haproxy-socket-relative", R, {"haproxy": {**HAPROXY, "socket": "admin.sock"}}, "haproxy.socket: must be an abs"),
    ("haproxy-socket-dotdot", R, {"haproxy": {**HAPROXY, "socket": "/run/../etc/x"}}, "haproxy.socket: must be an abs"),
    ("haproxy-socket-long", R, {"haproxy": {**HAPROXY, "socket": "/" + "s" * 120}}, "haproxy.socket: must be an abs"),
    ("check-name-zero-width", [*C, 0, "name"], f"p99{ZWSP}", "spec.analysis.checks[0].name: must be a DNS-1123"),
    ("deployment-cyrillic", [*S, "blue", "deployment"], f"check{CYRILLIC_A}ut", "spec.blue.deployment: must be a DNS"),
    ("container-upper", [*S, "green", "container"], "App", "spec.green.container: must be a DNS-1123"),
    ("rollout-name-zero-width", ["metadata", "name"], f"check{ZWSP}out", "metadata.name: must be a DNS-1123 label"),
    # metadata bounds as the API server has them
    (
        "annotations-300k",
        ["metadata", "annotations"],
        {"example.com/a": "x" * 300_000},
        "metadata.annotations: annotations total 300013 bytes; the API server accepts at most 262144",
    ),
    (
        "annotations-many",
        ["metadata", "annotations"],
        {f"example.com/a{i}": "x" * 1000 for i in range(300)},
        "metadata.annotations: annotations total",
    ),
    (
        "annotations-multibyte",
        ["metadata", "annotations"],
        {"example.com/a": "\u00e9" * 140_000},
        "annotations total 280013 bytes",
    ),
]

MISSING: list[tuple[str, list[str | int], str]] = [
    ("no-checks", [*A, "checks"], "spec.analysis.checks: required field is missing"),
    ("no-blue", [*S, "blue"], "spec.blue: required field is missing"),
    ("no-router", [*S, "trafficRouting"], "spec.trafficRouting: required field is missing"),
    ("no-metadata-name", ["metadata", "name"], "metadata.name: required field is missing"),
]

CORPUS: list[Case] = [
    *RAW,
    *(Case(name, _with(path, value), expected) for name, path, value, expected in MUTATIONS),
    *(Case(name, _without(path), expected) for name, path, expected in MISSING),
]
