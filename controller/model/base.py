"""Shared pydantic configuration and field types for the BlueGreenRollout models.

Every model forbids unknown fields (a misspelled ``stpes`` must fail, not vanish), uses camelCase on
the wire and snake_case in Python, and is immutable so that the pure core cannot mutate its inputs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from controller.model.quantities import (
    DURATION_PATTERN,
    RATE_PATTERN,
    format_duration,
    parse_duration,
    parse_rate,
)

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_LABEL_MAX = 63


class Model(BaseModel):
    """Base of every spec/status model: camelCase aliases, unknown fields rejected, frozen."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready camelCase form, without unset optionals, as the API server stores it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _check_dns_label(value: str) -> str:
    if len(value) > DNS1123_LABEL_MAX or not re.fullmatch(DNS1123_LABEL, value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending "
            f"with a letter or digit, at most {DNS1123_LABEL_MAX} characters"
        )
    return value


def _duration_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("invalid duration, expected a string such as 30s, 2m or 1h")
    return parse_duration(value)


def _rate_per_second(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("invalid slope, expected a string such as 50Mi/h or 20/h")
    return parse_rate(value)


def _format_rate(per_second: float) -> str:
    """Per hour in plain decimals: the slope pattern has no exponents, so ``5Mi/min`` must not become
    ``3.14573e+08/h`` (which would not parse back)."""
    return f"{Decimal(f'{per_second * 3600:.12g}'):f}/h"


DnsLabel = Annotated[
    str,
    AfterValidator(_check_dns_label),
    WithJsonSchema({"type": "string", "pattern": DNS1123_LABEL, "maxLength": DNS1123_LABEL_MAX}),
]

Duration = Annotated[
    float,
    BeforeValidator(_duration_seconds),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
"""Seconds in Python, a Go-style duration string (``30s``, ``2m``, ``1h30m``) on the wire."""

Rate = Annotated[
    float,
    BeforeValidator(_rate_per_second),
    PlainSerializer(_format_rate, return_type=str),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN}),
]
"""Units per second in Python, an amount per time unit (``50Mi/h``, ``20/h``) on the wire."""


class FieldProblem(ValueError):
    """A cross-field rule broken at a precise place below the model that checks it.

    Model validators raise this so that ``greenlane validate`` can point at ``spec.steps[2].weight``
    with the offending value, rather than at the whole ``spec``.
    """

    def __init__(self, path: tuple[str | int, ...], message: str, got: Any) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.got = got
