"""The ``spec`` of a BlueGreenRollout: what to shift, through which router, in which steps, judged how.

Field names are the public API (DESIGN.md §2.1). Rules that span fields live in model validators and,
where OpenAPI cannot say them, as CEL rules (``x-kubernetes-validations``) next to the model so the API
server rejects what ``greenlane validate`` rejects.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from controller.model.base import DnsLabel, Duration, FieldProblem, Model, Rate
from controller.model.quantities import DURATION_PATTERN, format_duration, parse_duration
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


def _pause_seconds(value: Any) -> float:
    if value == "manual":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("invalid pause, expected a duration such as 30s, 2m, 1h, or 'manual'")
    return parse_duration(value)


def format_pause(seconds: float) -> str:
    return "manual" if math.isinf(seconds) else format_duration(seconds)


Pause = Annotated[
    float,
    BeforeValidator(_pause_seconds),
    PlainSerializer(format_pause, return_type=str),
    WithJsonSchema({"type": "string", "pattern": f"^manual$|{DURATION_PATTERN}"}),
]
"""Bake time in seconds; ``manual`` (infinity) waits for ``greenlane promote``."""


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
    weight: int = Field(ge=0, le=100, description="Green's share of traffic in percent.")
    pause: Pause = Field(default=0.0, description="Bake time at this weight (30s, 5m, 1h) or 'manual'.")

    @property
    def manual(self) -> bool:
        return math.isinf(self.pause)


class SecretKeyRef(Model):
    name: DnsLabel
    key: str = Field(min_length=1)


class SecretRef(Model):
    name: DnsLabel


class PrometheusConfig(Model):
    """Where and how to query; credentials come from Secrets in the rollout's namespace."""

    address: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Prometheus base URL; default: the operator's --prometheus-url.",
    )
    timeout: Duration = Field(default=10.0, description="Per-query timeout.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with each query.")
    bearer_token_secret: SecretKeyRef | None = None
    basic_auth_secret: SecretRef | None = Field(default=None, description="Secret with keys username and password.")
    ca_secret: SecretKeyRef | None = Field(default=None, description="Secret key holding a PEM CA bundle.")
    insecure_skip_verify: bool = False


class Check(Model):
    """One metric judged every interval: a builtin template or a PromQL query, with its thresholds."""

    name: DnsLabel
    template: TemplateName | None = None
    query: str | None = Field(default=None, min_length=1)
    quantile: float | None = Field(default=None, gt=0, lt=1, description="latency only; default 0.99.")
    window: Duration | None = Field(default=None, description="Range of each query; default per template.")
    min_requests: int | None = Field(
        default=None, ge=0, description="latency/error-rate: fewer requests in the window is Inconclusive."
    )
    source: Literal["container", "process", "server", "pool"] | None = Field(
        default=None, description="memory: container|process; db-connections: server|pool."
    )
    critical: bool = Field(default=False, description="Roll back on the first failing evaluation.")
    max: float | None = None
    min: float | None = None
    max_ratio_to_blue: float | None = Field(default=None, gt=0)
    max_increase_over_blue: float | None = None
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
        if self.query is not None:
            unknown = sorted(set(_VARIABLE_RE.findall(self.query)) - QUERY_VARIABLES)
            if unknown:
                known = ", ".join(sorted(QUERY_VARIABLES))
                raise FieldProblem(("query",), f"unknown template variable(s) {unknown}; known: {known}", self.query)
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
    interval: Duration = Field(default=30.0, description="Time between evaluations while a step bakes.")
    warmup: Duration = Field(default=60.0, description="Green pods' startup window ignored by level checks.")
    failure_limit: int = Field(default=2, ge=1, description="Consecutive failing evaluations that roll back.")
    required_passes: int = Field(default=2, ge=1, description="Consecutive passing evaluations that complete a step.")
    max_hold: Duration = Field(default=600.0, description="How long an outage or inconclusive data may hold a step.")
    on_hold: Literal["pause", "rollback"] = Field(default="pause", description="What happens after maxHold.")
    confidence: float = Field(
        default=0.99,
        ge=0.5,
        le=0.9999,
        description="Probability that a healthy green goes through the whole rollout without a single false "
        "Fail: 1 - confidence is the false-rollback budget shared by every check and evaluation.",
    )
    checks: list[Check] = Field(min_length=1, max_length=32)

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
    scale_down_blue_after: Duration = Field(
        default=3600.0, description="Blue keeps running this long after promotion, for instant rollback."
    )


_NEEDS_SERVICES = ("gatewayAPI", "istio", "smi", "nginx")


class RolloutSpec(Model):
    blue: Track
    green: Track
    traffic_routing: TrafficRouting
    steps: list[Step] = Field(min_length=1, max_length=20)
    analysis: Analysis
    promotion: Promotion = Field(default_factory=Promotion)

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
