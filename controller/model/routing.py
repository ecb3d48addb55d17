"""Traffic-router blocks of a rollout spec: exactly one names the object greenlane steers.

Each block carries only what ``ROUTERS.md`` says its router needs; which Services it splits between
comes from the tracks, and is checked against the router in ``RolloutSpec``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from controller.model import limits
from controller.model.base import INTEGRAL, DnsLabel, FieldProblem, Model, SectionName, Text
from controller.model.limits import TOTAL_REPLICAS

RouteName = Annotated[
    str,
    Text(
        r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        limits.NAME_MAX_LENGTH,
        "must be ASCII letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    ),
]
"""An Istio route name, ASCII only: a look-alike or zero-width character would match no route."""
HAProxyName = Annotated[
    str,
    Text(
        r"^[A-Za-z0-9_.:-]+$",
        limits.HAPROXY_NAME_MAX_LENGTH,
        "must be letters, digits, '_', '.', ':' or '-' (HAProxy names; no spaces, ';' or newlines)",
    ),
]
"""What HAProxy allows in proxy and server names; it also keeps a runtime API command one command."""
SOCKET_PATH = r"^(/([A-Za-z0-9_~@+-]|\.[A-Za-z0-9_~@+-])[A-Za-z0-9._~@+-]*)+$"
SocketPath = Annotated[
    str,
    Text(
        SOCKET_PATH,
        limits.SOCKET_PATH_MAX_LENGTH,
        "must be an absolute path of letters, digits and ._~@+- without '.' or '..' components",
    ),
]


class GatewayAPIRouting(Model):
    http_route: DnsLabel | None = None
    grpc_route: DnsLabel | None = None
    rule: SectionName | None = Field(
        default=None, description="Rule name; default: the rule whose backendRefs name both Services."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.httpRoute) != has(self.grpcRoute)",
                    "message": "set exactly one of httpRoute or grpcRoute",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _one_route(self) -> GatewayAPIRouting:
        if (self.http_route is None) == (self.grpc_route is None):
            raise FieldProblem((), "set exactly one of httpRoute or grpcRoute", self.to_wire())
        return self


class IstioRouting(Model):
    virtual_service: DnsLabel
    route: RouteName | None = Field(default=None, description="Route name; default: the single unnamed HTTP route.")


class SMIRouting(Model):
    traffic_split: DnsLabel


class NginxRouting(Model):
    ingress: DnsLabel = Field(description="The main (blue) Ingress; greenlane manages a canary copy of it.")
    canary_ingress: DnsLabel | None = Field(
        default=None, description="Name of the canary Ingress; default <ingress>-canary."
    )


class ReplicasRouting(Model):
    total_replicas: Annotated[int, Field(ge=TOTAL_REPLICAS[0], le=TOTAL_REPLICAS[1]), INTEGRAL] | None = Field(
        default=None, description="Replicas shared by both tracks; default: blue's replicas at start."
    )


class HAProxyRouting(Model):
    socket: SocketPath = Field(description="Path of HAProxy's stats socket with 'level admin'.")
    backend: HAProxyName
    blue_server: HAProxyName
    green_server: HAProxyName


ROUTERS: tuple[str, ...] = ("gatewayAPI", "istio", "smi", "nginx", "replicas", "haproxy")
_ONE_ROUTER_CEL = " + ".join(f"(has(self.{r}) ? 1 : 0)" for r in ROUTERS) + " == 1"


class TrafficRouting(Model):
    """Exactly one router; each knows how to read and write green's share on its own object."""

    gateway_api: GatewayAPIRouting | None = Field(default=None, alias="gatewayAPI")
    istio: IstioRouting | None = None
    smi: SMIRouting | None = None
    nginx: NginxRouting | None = None
    replicas: ReplicasRouting | None = None
    haproxy: HAProxyRouting | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": _ONE_ROUTER_CEL, "message": "set exactly one router: " + ", ".join(ROUTERS)}
            ]
        }
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficRouting:
        chosen = self.chosen()
        if len(chosen) != 1:
            raise FieldProblem((), f"set exactly one router of {', '.join(ROUTERS)}", chosen)
        return self

    def chosen(self) -> list[str]:
        """Wire names of the routers that are set."""
        return [name for name in ROUTERS if getattr(self, _python_name(name)) is not None]

    @property
    def kind(self) -> str:
        """Wire name of the one configured router, e.g. ``gatewayAPI``."""
        return self.chosen()[0]


def _python_name(wire: str) -> str:
    return "gateway_api" if wire == "gatewayAPI" else wire
