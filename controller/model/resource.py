"""The BlueGreenRollout resource envelope and the identifiers of its API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from controller.model.base import DnsLabel, Model
from controller.model.limits import TOTAL_ANNOTATION_BYTES
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus

GROUP = "greenlane.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "BlueGreenRollout"
PLURAL = "bluegreenrollouts"
SINGULAR = "bluegreenrollout"
SHORT_NAMES = ("bgr",)
CATEGORIES = ("all", "greenlane")


class ObjectMeta(Model):
    """The parts of metadata greenlane reads; the API server's own fields pass through untouched."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: DnsLabel
    namespace: DnsLabel | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    resource_version: str | None = None
    uid: str | None = None

    @field_validator("annotations")
    @classmethod
    def _annotation_size(cls, annotations: dict[str, str]) -> dict[str, str]:
        """The API server refuses an object whose annotations exceed this in total; so do we, before it."""
        size = sum(len(f"{k}{v}".encode(errors="surrogatepass")) for k, v in annotations.items())
        if size > TOTAL_ANNOTATION_BYTES:
            raise ValueError(
                f"annotations total {size} bytes; the API server accepts at most {TOTAL_ANNOTATION_BYTES} (256 KiB)"
            )
        return annotations


class BlueGreenRollout(Model):
    api_version: Literal["greenlane.dev/v1alpha1"]
    kind: Literal["BlueGreenRollout"]
    metadata: ObjectMeta
    spec: RolloutSpec
    status: RolloutStatus | None = None

    @property
    def key(self) -> str:
        """``namespace/name``, the identity used in logs, locks and metrics."""
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"


def manifest(obj: BlueGreenRollout) -> dict[str, Any]:
    """The resource as the API server would store it (camelCase, without unset optionals)."""
    return obj.to_wire()
