"""Shared pydantic configuration and field types for the BlueGreenRollout models.

Every model forbids unknown fields (a misspelled ``stpes`` must fail, not vanish), uses camelCase on
the wire and snake_case in Python, and is immutable so that the pure core cannot mutate its inputs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from controller.model.limits import NAME_MAX_LENGTH
from controller.model.quantities import (
    DURATION_MAX_LENGTH,
    DURATION_PATTERN,
    RATE_MAX_LENGTH,
    RATE_PATTERN,
    duration_micros,
    format_duration,
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


def _rate_per_second(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("invalid slope, expected a string such as 50Mi/h or 20/h")
    return parse_rate(value)


def _format_rate(per_second: float) -> str:
    """Per hour in plain decimals: the slope pattern has no exponents, so ``5Mi/min`` must not become
    ``3.14573e+08/h`` (which would not parse back)."""
    return f"{Decimal(f'{per_second * 3600:.12g}'):f}/h"


@dataclass(frozen=True)
class Text:
    """Annotated metadata: a string matching ``pattern`` with ``min_length..max_length`` characters.

    One definition for the pydantic check (a human-readable message) and the CRD (``pattern``/``maxLength``,
    enforced by the API server). Patterns stay within the regex syntax Python's ``re`` and RE2 read alike.
    """

    pattern: str
    max_length: int
    message: str
    min_length: int = 1

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out: dict[str, Any] = {"type": "string", "pattern": self.pattern, "maxLength": self.max_length}
        if self.min_length:
            out["minLength"] = self.min_length
        return out

    def _check(self, value: str) -> str:
        if not self.min_length <= len(value) <= self.max_length or not re.fullmatch(self.pattern, value):
            raise ValueError(f"{self.message}, at most {self.max_length} characters")
        return value


DnsLabel = Annotated[
    str,
    AfterValidator(_check_dns_label),
    WithJsonSchema({"type": "string", "pattern": DNS1123_LABEL, "maxLength": DNS1123_LABEL_MAX}),
]

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SectionName = Annotated[
    str,
    Text(DNS1123_SUBDOMAIN, NAME_MAX_LENGTH, "must be lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain)"),
]
"""Gateway API ``SectionName`` (rule names), ASCII only: a zero-width space cannot hide in it."""


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


INTEGRAL = BeforeValidator(_integral)
Count = Annotated[int, INTEGRAL]
"""An integer; ``2.0`` counts as 2, as the API server counts it (kubectl sends YAML's ``2.0`` as JSON ``2``).
Optional counts put their bounds first: ``Annotated[int, Field(ge=…), INTEGRAL] | None``."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A threshold: any finite number (``.nan`` and ``.inf`` would make every comparison meaningless)."""


@dataclass(frozen=True)
class DurationRange:
    """Annotated metadata for a duration within ``[low, high]`` seconds (or ``manual`` when allowed).

    Seconds (float) in Python, a duration string on the wire. pydantic and the CRD's CEL rule both compare
    exact microseconds, so they agree at the boundaries.
    """

    low: float
    high: float
    manual: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        serialize = core_schema.plain_serializer_function_ser_schema(
            self._format, return_schema=core_schema.str_schema()
        )
        return core_schema.no_info_plain_validator_function(self._check, serialization=serialize)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        rule = cel_duration_between(self.low, self.high)
        return {
            "type": "string",
            "pattern": f"^manual$|{DURATION_PATTERN}" if self.manual else DURATION_PATTERN,
            "maxLength": DURATION_MAX_LENGTH,
            "x-kubernetes-validations": [
                {"rule": f"self == 'manual' || ({rule})" if self.manual else rule, "message": self._range()}
            ],
        }

    def _range(self) -> str:
        return f"must be between {format_duration(self.low)} and {format_duration(self.high)}"

    def _check(self, value: Any) -> float:
        if self.manual and value == "manual":
            return math.inf
        if isinstance(value, bool) or not isinstance(value, str):
            what = "a duration such as 30s, 2m, 1h, or 'manual'" if self.manual else "a string such as 30s, 2m or 1h"
            raise ValueError(f"invalid duration, expected {what}")
        micros = duration_micros(value)
        if not round(self.low * 1e6) <= micros <= round(self.high * 1e6):
            raise ValueError(self._range())
        return micros / 1_000_000

    @staticmethod
    def _format(seconds: float) -> str:
        return "manual" if math.isinf(seconds) else format_duration(seconds)


def cel_duration_between(low: float, high: float) -> str:
    """CEL that is true when ``self`` (a string matching DURATION_PATTERN) lies in ``[low, high]`` seconds.

    Kubernetes CEL's ``duration()`` knows ``h m s ms`` but not ``d``: whole days (the part before ``d``, the
    only unit ending in ``d``) are added as seconds, the rest is parsed by ``duration()``.
    """
    days = "(self.contains('d') ? duration(string(int(self.split('d')[0]) * 86400) + 's') : duration('0s'))"
    rest = "duration(self.endsWith('d') ? '0s' : self.split('d')[self.split('d').size() - 1])"
    total = f"({days} + {rest})"
    bounds = [f"{total} <= duration('{_micros_text(high)}')"]
    if low > 0:
        bounds.insert(0, f"{total} >= duration('{_micros_text(low)}')")
    return " && ".join(bounds)


def _micros_text(seconds: float) -> str:
    micros = round(seconds * 1e6)
    return f"{micros // 1_000_000}s" if micros % 1_000_000 == 0 else f"{micros}us"


Rate = Annotated[
    float,
    BeforeValidator(_rate_per_second),
    PlainSerializer(_format_rate, return_type=str),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN, "maxLength": RATE_MAX_LENGTH}),
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
