"""The ``spec`` of a BlueGreenRollout: what to shift, through which router, in which steps, judged how.

Field names are the public API (DESIGN.md §2.1). Rules that span fields live in model validators and,
where OpenAPI cannot say them, as CEL rules (``x-kubernetes-validations``) next to the model so the API
server rejects what ``greenlane validate`` rejects.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from controller.model import limits
from controller.model.base import INTEGRAL, Count, DnsLabel, DurationRange, FieldProblem, Finite, Model, Rate, Text
from controller.model.notify import Notification
from controller.model.quantities import format_duration
from controller.model.routing import (
    TrafficRouting,
)

TemplateName = Literal["latency", "error-rate", "memory", "db-connections", "python-version"]
TEMPLATES: tuple[str, ...] = ("latency", "error-rate", "memory", "db-connections", "python-version")
QUERY_VARIABLES: frozenset[str] = frozenset({"namespace", "deployment", "pods", "window"})
SOURCES: dict[str, tuple[str, ...]] = {"memory": ("container", "process"), "db-connections": ("server", "pool")}
TRAFFIC_TEMPLATES: frozenset[str] = frozenset({"latency", "error-rate"})
THRESHOLDS: tuple[str, ...] = (
    "max",
    "min",
    "max_ratio_to_blue",
    "max_increase_over_blue",
    "max_slope",
    "max_slope_over_blue",
)
_THRESHOLD_WIRE = ("max", "min", "maxRatioToBlue", "maxIncreaseOverBlue", "maxSlope", "maxSlopeOverBlue")
_VARIABLE_RE = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
_PYTHON_VERSION_RE = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"


def format_pause(seconds: float) -> str:
    return "manual" if math.isinf(seconds) else format_duration(seconds)


Pause = Annotated[float, DurationRange(*limits.PAUSE, manual=True)]
"""Bake time in seconds; ``manual`` (infinity) waits for ``greenlane promote``."""

QUERY_TEMPLATE_PATTERN = (
    r"^\}?(?:(?:[^{}]|\{[^{}])\}?|\{\{[ \t\n\r]*(?:" + "|".join(sorted(QUERY_VARIABLES)) + r")[ \t\n\r]*\}\}|\{\})*\{?$"
)
"""A query whose every ``{{`` opens a known ``{{ variable }}`` and every ``}}`` closes one. Read as tokens
(a variable, ``{}``, a lone brace, any other character), a lone ``}`` may not follow a variable or another
``}``, and a lone ``{`` may not precede a ``{``: so ``{{ pods"} or vector(1) }}`` and ``{{{ pods }}`` fail while
PromQL's own braces (``x{a="b"}``, ``x{}``) pass. The same regex is the CRD's pattern (RE2 reads it alike)."""


def _check_query(value: str) -> str:
    if not value:
        raise ValueError("query is empty")
    if len(value) > limits.QUERY_MAX_LENGTH:
        raise ValueError(f"query is {len(value)} characters; at most {limits.QUERY_MAX_LENGTH}")
    unknown = sorted(set(_VARIABLE_RE.findall(value)) - QUERY_VARIABLES)
    if unknown:
        raise ValueError(f"unknown template variable(s) {unknown}; known: {', '.join(sorted(QUERY_VARIABLES))}")
    if not re.fullmatch(QUERY_TEMPLATE_PATTERN, value):
        raise ValueError(
            "malformed template: every '{{' must open a variable such as {{ pods }} and every '}}' close one"
        )
    return value


Query = Annotated[
    str,
    AfterValidator(_check_query),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": limits.QUERY_MAX_LENGTH, "pattern": QUERY_TEMPLATE_PATTERN}
    ),
]

HTTP_TOKEN = r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$"
"""RFC 9110 ``token``: what a header name may be; no space, colon, CR or LF."""
HEADER_VALUE = r"^([!-~]([\t -~]*[!-~])?)?$"
"""Visible ASCII with inner spaces and tabs: no CR/LF (request splitting), no control characters."""
RESERVED_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
)
"""Credentials come from opted-in Secrets, never from a spec anyone with ``view`` can read; the target is the
allowlisted address, and framing is the HTTP client's business."""


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > limits.MAX_HEADERS:
        raise ValueError(f"at most {limits.MAX_HEADERS} headers")
    for name, value in headers.items():
        if len(name) > limits.HEADER_NAME_MAX_LENGTH or not re.fullmatch(HTTP_TOKEN, name):
            raise FieldProblem((name,), "header names are letters, digits and !#$%&'*+-.^_`|~ (no spaces)", name)
        if name.lower() in RESERVED_HEADERS:
            raise FieldProblem((name,), f"{name} may not be set here; credentials come from Secrets", name)
        if len(value) > limits.HEADER_VALUE_MAX_LENGTH or not re.fullmatch(HEADER_VALUE, value):
            raise FieldProblem(
                (name,),
                "header values are printable ASCII without CR, LF or control characters, "
                f"no leading or trailing space, at most {limits.HEADER_VALUE_MAX_LENGTH} characters",
                value,
            )
    return headers


Headers = Annotated[
    dict[str, str],
    AfterValidator(_check_headers),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": limits.MAX_HEADERS,
            "additionalProperties": {
                "type": "string",
                "pattern": HEADER_VALUE,
                "maxLength": limits.HEADER_VALUE_MAX_LENGTH,
            },
            "x-kubernetes-validations": [
                {
                    "rule": f'self.all(k, k.size() <= {limits.HEADER_NAME_MAX_LENGTH} && k.matches("{HTTP_TOKEN}"))',
                    "message": "header names are letters, digits and !#$%&'*+-.^_`|~ (no spaces)",
                },
                {
                    "rule": "self.all(k, !(k.lowerAscii() in " + str(list(RESERVED_HEADERS)) + "))",
                    "message": "Authorization, Host and framing headers may not be set; credentials come from Secrets",
                },
            ],
        }
    ),
]

SecretKey = Annotated[
    str,
    Text(r"^[-._a-zA-Z0-9]+$", limits.NAME_MAX_LENGTH, "must be letters, digits, '-', '_' or '.' (a Secret data key)"),
]
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = (
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:" + _PORT + r")?(/[-A-Za-z0-9._~%/]*)?$"
)
"""scheme://host[:port][/path]: no user (``http://allowed@evil``), query, fragment or whitespace."""
Url = Annotated[
    str,
    Text(
        URL_PATTERN,
        limits.URL_MAX_LENGTH,
        "must be an http:// or https:// URL: host, optional port and path; no user, query or fragment",
    ),
]


def _check_python_version(value: str) -> str:
    if not re.fullmatch(_PYTHON_VERSION_RE, value):
        raise ValueError("must be a Python version such as 3.12 or 3.12.4")
    return value


PythonVersion = Annotated[
    str,
    AfterValidator(_check_python_version),
    WithJsonSchema({"type": "string", "pattern": _PYTHON_VERSION_RE}),
]


class Track(Model):
    """One side of the rollout: an existing Deployment and the Service that selects only its pods."""

    deployment: DnsLabel
    service: DnsLabel | None = None
    expect_python: PythonVersion | None = None
    container: DnsLabel | None = Field(
        default=None, description="Container whose memory the memory template reads; default: all containers."
    )


class Step(Model):
    weight: Count = Field(ge=0, le=100, description="Green's share of traffic in percent.")
    pause: Pause = Field(default=0.0, description="Bake time at this weight (30s, 5m, 1h) or 'manual'.")

    @property
    def manual(self) -> bool:
        return math.isinf(self.pause)


class SecretKeyRef(Model):
    name: DnsLabel
    key: SecretKey


class SecretRef(Model):
    name: DnsLabel


class PrometheusConfig(Model):
    """Where and how to query; credentials come from Secrets in the rollout's namespace."""

    address: Url | None = Field(
        default=None,
        description="Prometheus base URL; default: the operator's --prometheus-url. Its origin must be "
        "allowed by the operator (--prometheus-allowed-origin).",
    )
    timeout: Annotated[float, DurationRange(*limits.TIMEOUT)] = Field(default=10.0, description="Per-query timeout.")
    headers: Headers = Field(default_factory=dict, description="Extra HTTP headers sent with each query.")
    bearer_token_secret: SecretKeyRef | None = None
    basic_auth_secret: SecretRef | None = Field(default=None, description="Secret with keys username and password.")
    ca_secret: SecretKeyRef | None = Field(default=None, description="Secret key holding a PEM CA bundle.")
    insecure_skip_verify: bool = False


class Check(Model):
    """One metric judged every interval: a builtin template or a PromQL query, with its thresholds."""

    name: DnsLabel
    template: TemplateName | None = None
    query: Query | None = None
    quantile: float | None = Field(
        default=None, gt=0, lt=1, allow_inf_nan=False, description="latency only; default 0.99."
    )
    window: Annotated[float, DurationRange(*limits.WINDOW)] | None = Field(
        default=None, description="Range of each query; default per template."
    )
    min_requests: Annotated[int, Field(ge=limits.MIN_REQUESTS[0], le=limits.MIN_REQUESTS[1]), INTEGRAL] | None = Field(
        default=None, description="latency/error-rate: fewer requests in the window is Inconclusive."
    )
    source: Literal["container", "process", "server", "pool"] | None = Field(
        default=None, description="memory: container|process; db-connections: server|pool."
    )
    critical: bool = Field(default=False, description="Roll back on the first failing evaluation.")
    max: Finite | None = None
    min: Finite | None = None
    max_ratio_to_blue: Finite | None = Field(default=None, gt=0)
    max_increase_over_blue: Finite | None = None
    max_slope: Rate | None = None
    max_slope_over_blue: Rate | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "has(self.template) != has(self.query)", "message": "set exactly one of template or query"},
                {
                    "rule": " || ".join(f"has(self.{t})" for t in _THRESHOLD_WIRE)
                    + " || (has(self.template) && self.template == 'python-version')",
                    "message": "set at least one threshold",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _consistent(self) -> Check:
        if (self.template is None) == (self.query is None):
            raise FieldProblem((), "set exactly one of 'template' or 'query'", self.template or self.query)
        if self.template != "python-version" and not self.thresholds():
            raise FieldProblem(
                (),
                "set at least one threshold: max, min, maxRatioToBlue, maxIncreaseOverBlue, maxSlope, maxSlopeOverBlue",
                self.to_wire(),
            )
        self._check_template_options()
        return self

    def _check_template_options(self) -> None:
        if self.quantile is not None and self.template != "latency":
            raise FieldProblem(("quantile",), "applies to the latency template only", self.quantile)
        if self.min_requests is not None and self.template not in TRAFFIC_TEMPLATES:
            raise FieldProblem(
                ("minRequests",), "applies to the latency and error-rate templates only", self.min_requests
            )
        if self.source is not None:
            allowed = SOURCES.get(self.template or "", ())
            if self.source not in allowed:
                where = f"the {self.template} template" if self.template else "a custom query"
                raise FieldProblem(
                    ("source",), f"not valid for {where}; allowed: {list(allowed) or 'none'}", self.source
                )

    def thresholds(self) -> dict[str, float]:
        """The thresholds that are set, by Python field name."""
        return {name: getattr(self, name) for name in THRESHOLDS if getattr(self, name) is not None}


class Analysis(Model):
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    interval: Annotated[float, DurationRange(*limits.INTERVAL)] = Field(
        default=30.0, description="Time between evaluations while a step bakes."
    )
    warmup: Annotated[float, DurationRange(*limits.WARMUP)] = Field(
        default=60.0, description="Green pods' startup window ignored by level checks."
    )
    failure_limit: Count = Field(
        default=2,
        ge=limits.FAILURE_LIMIT[0],
        le=limits.FAILURE_LIMIT[1],
        description="Consecutive failing evaluations that roll back.",
    )
    required_passes: Count = Field(
        default=2,
        ge=limits.REQUIRED_PASSES[0],
        le=limits.REQUIRED_PASSES[1],
        description="Consecutive passing evaluations that complete a step.",
    )
    max_hold: Annotated[float, DurationRange(*limits.MAX_HOLD)] = Field(
        default=600.0, description="How long an outage or inconclusive data may hold a step."
    )
    on_hold: Literal["pause", "rollback"] = Field(default="pause", description="What happens after maxHold.")
    checks: list[Check] = Field(min_length=1, max_length=limits.MAX_CHECKS)

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.checks.all(c, self.checks.filter(d, d.name == c.name).size() == 1)",
                    "message": "check names must be unique",
                    "fieldPath": ".checks",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Analysis:
        seen: set[str] = set()
        for i, check in enumerate(self.checks):
            if check.name in seen:
                raise FieldProblem(("checks", i, "name"), "duplicate check name", check.name)
            seen.add(check.name)
        return self


class Promotion(Model):
    scale_down_blue_after: Annotated[float, DurationRange(*limits.SCALE_DOWN_BLUE_AFTER)] = Field(
        default=3600.0, description="Blue keeps running this long after promotion, for instant rollback."
    )


_NEEDS_SERVICES = ("gatewayAPI", "istio", "smi", "nginx")


class RolloutSpec(Model):
    blue: Track
    green: Track
    traffic_routing: TrafficRouting
    steps: list[Step] = Field(min_length=1, max_length=limits.MAX_STEPS)
    analysis: Analysis
    promotion: Promotion = Field(default_factory=Promotion)
    notifications: list[Notification] = Field(
        default_factory=list, max_length=8, description="Where this rollout's events are announced."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.steps.map(s, s.weight).isSorted()",
                    "message": "step weights must not decrease",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.steps[self.steps.size() - 1].weight == 100",
                    "message": "the last step must have weight 100",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.blue.deployment != self.green.deployment",
                    "message": "blue and green must be different Deployments",
                },
                {
                    "rule": "!(" + " || ".join(f"has(self.trafficRouting.{r})" for r in _NEEDS_SERVICES) + ")"
                    " || (has(self.blue.service) && has(self.green.service)"
                    " && self.blue.service != self.green.service)",
                    "message": "this router needs distinct blue.service and green.service",
                },
                {
                    "rule": "!self.analysis.checks.exists(c, has(c.template) && c.template == 'python-version')"
                    " || has(self.green.expectPython)",
                    "message": "the python-version template needs green.expectPython",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _cross_field(self) -> RolloutSpec:
        weights = [s.weight for s in self.steps]
        for i in range(1, len(weights)):
            if weights[i] < weights[i - 1]:
                raise FieldProblem(
                    ("steps", i, "weight"),
                    f"weights must not decrease (previous step has {weights[i - 1]})",
                    weights[i],
                )
        if weights[-1] != 100:
            raise FieldProblem(("steps", len(weights) - 1, "weight"), "the last step must have weight 100", weights[-1])
        if self.blue.deployment == self.green.deployment:
            raise FieldProblem(("green", "deployment"), "must differ from blue.deployment", self.green.deployment)
        self._check_services()
        if any(c.template == "python-version" for c in self.analysis.checks) and not self.green.expect_python:
            raise FieldProblem(("green", "expectPython"), "required by the python-version template", None)
        return self

    def _check_services(self) -> None:
        router = self.traffic_routing.kind
        if router not in _NEEDS_SERVICES:
            return
        for side, track in (("blue", self.blue), ("green", self.green)):
            if track.service is None:
                raise FieldProblem((side, "service"), f"required by trafficRouting.{router}", None)
        if self.blue.service == self.green.service:
            raise FieldProblem(("green", "service"), "must differ from blue.service", self.green.service)
