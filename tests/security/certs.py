"""A real CA certificate for tests: the operator refuses PEM that does not parse."""

from __future__ import annotations

from pathlib import Path

import certifi

_BEGIN, _END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"


def ca_bundle() -> str:
    """The first certificate of certifi's bundle (installed with requests), as PEM text."""
    text = Path(certifi.where()).read_text()
    start = text.index(_BEGIN)
    return text[start : text.index(_END, start) + len(_END)] + "\n"
